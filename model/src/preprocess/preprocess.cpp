// Pillow-identical preprocessing (spec section 4). The resampler follows Pillow's
// src/libImaging/Resample.c: separable Lanczos-3, coefficients in double normalised to sum 1, then
// fixed point with 22 fractional bits; horizontal pass first into an 8-bit image, then vertical;
// each pass rounds (accumulator seeded with half) and clips to 0..255.
#include "preprocess/preprocess.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace cxr::detail {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS (22)
constexpr double kLanczosSupport = 3.0;

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos(double x) {
  if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3.0);
  return 0.0;
}

// One output pixel's taps: the first input index and fixed-point weights.
struct Taps {
  int first = 0;
  std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for a full-image box (in0 = 0, in1 = inSize).
std::vector<Taps> lanczosTaps(int inSize, int outSize) {
  const double scale = static_cast<double>(static_cast<float>(inSize)) / outSize;
  const double filterScale = std::max(scale, 1.0);  // widen the filter only when shrinking
  const double support = kLanczosSupport * filterScale;
  std::vector<Taps> taps(static_cast<size_t>(outSize));
  std::vector<double> w;
  for (int xx = 0; xx < outSize; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterScale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation, as Pillow's (int) cast
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    w.assign(static_cast<size_t>(std::max(xmax, 0)), 0.0);
    double sum = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[static_cast<size_t>(x)] = lanczos((x + xmin - center + 0.5) * ss);
      sum += w[static_cast<size_t>(x)];
    }
    Taps& t = taps[static_cast<size_t>(xx)];
    t.first = xmin;
    t.weights.resize(w.size());
    for (size_t x = 0; x < w.size(); ++x) {
      const double k = sum != 0.0 ? w[x] / sum : w[x];
      // Round half away from zero.
      t.weights[x] = static_cast<int32_t>(k < 0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits));
    }
  }
  return taps;
}

uint8_t clip8(int32_t accumulator) {
  const int32_t v = accumulator >> kPrecisionBits;  // arithmetic shift, as Pillow's lookup index
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

std::vector<uint8_t> resampleHorizontal(const std::vector<uint8_t>& in, int width, int height, int newWidth) {
  const auto taps = lanczosTaps(width, newWidth);
  std::vector<uint8_t> out(static_cast<size_t>(newWidth) * height);
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = &in[static_cast<size_t>(y) * width];
    for (int xx = 0; xx < newWidth; ++xx) {
      const Taps& t = taps[static_cast<size_t>(xx)];
      int32_t acc = 1 << (kPrecisionBits - 1);
      for (size_t x = 0; x < t.weights.size(); ++x) acc += row[t.first + static_cast<int>(x)] * t.weights[x];
      out[static_cast<size_t>(y) * newWidth + xx] = clip8(acc);
    }
  }
  return out;
}

std::vector<uint8_t> resampleVertical(const std::vector<uint8_t>& in, int width, int height, int newHeight) {
  const auto taps = lanczosTaps(height, newHeight);
  std::vector<uint8_t> out(static_cast<size_t>(width) * newHeight);
  for (int yy = 0; yy < newHeight; ++yy) {
    const Taps& t = taps[static_cast<size_t>(yy)];
    for (int x = 0; x < width; ++x) {
      int32_t acc = 1 << (kPrecisionBits - 1);
      for (size_t y = 0; y < t.weights.size(); ++y)
        acc += in[static_cast<size_t>(t.first + static_cast<int>(y)) * width + x] * t.weights[y];
      out[static_cast<size_t>(yy) * width + x] = clip8(acc);
    }
  }
  return out;
}

}  // namespace

std::vector<uint8_t> toGray(const cxr::ImageInput& image) {
  if (image.width <= 0 || image.height <= 0)
    throw cxr::ModelError("The image is empty (" + std::to_string(image.width) + "x" +
                          std::to_string(image.height) + " pixels); nothing to analyse.");
  if (image.channels != 1 && image.channels != 3 && image.channels != 4)
    throw cxr::ModelError("The image has " + std::to_string(image.channels) +
                          " channels; expected 1 (gray), 3 (RGB) or 4 (RGBA).");
  const size_t pixels = static_cast<size_t>(image.width) * static_cast<size_t>(image.height);
  if (image.pixels.size() != pixels * static_cast<size_t>(image.channels))
    throw cxr::ModelError("The image buffer holds " + std::to_string(image.pixels.size()) + " bytes, but " +
                          std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                          std::to_string(image.channels) + " needs " +
                          std::to_string(pixels * static_cast<size_t>(image.channels)) + ".");
  if (image.channels == 1) return image.pixels;
  // Pillow's convert("L") for RGB/RGBA: integer luma (ITU-R 601-2), alpha ignored.
  std::vector<uint8_t> gray(pixels);
  const size_t c = static_cast<size_t>(image.channels);
  for (size_t i = 0; i < pixels; ++i) {
    const uint32_t r = image.pixels[i * c], g = image.pixels[i * c + 1], b = image.pixels[i * c + 2];
    gray[i] = static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
  }
  return gray;
}

std::vector<uint8_t> resizeLanczos(const std::vector<uint8_t>& gray, int width, int height, int newWidth,
                                   int newHeight) {
  if (static_cast<size_t>(width) * height != gray.size() || newWidth <= 0 || newHeight <= 0)
    throw cxr::ModelError("resizeLanczos: buffer and size do not match");
  // Pillow skips a pass whose size does not change (and returns a copy when neither does).
  std::vector<uint8_t> out = gray;
  if (newWidth != width) out = resampleHorizontal(out, width, height, newWidth);
  if (newHeight != height) out = resampleVertical(out, newWidth, height, newHeight);
  return out;
}

cxr::PreprocessInfo preprocessImage(const cxr::ImageInput& image, int imageSize) {
  if (imageSize <= 0) throw cxr::ModelError("preprocessImage: image size must be positive");
  const std::vector<uint8_t> gray = toGray(image);
  const int w = image.width, h = image.height;

  // CLIPImageProcessor shortest_edge resize: short side -> imageSize, long side truncated.
  cxr::PreprocessInfo info;
  const int shortSide = std::min(w, h), longSide = std::max(w, h);
  const int newLong = static_cast<int>(static_cast<double>(imageSize) * longSide / shortSide);
  info.resizedWidth = w <= h ? imageSize : newLong;
  info.resizedHeight = w <= h ? newLong : imageSize;
  const std::vector<uint8_t> resized =
      (info.resizedWidth == w && info.resizedHeight == h)
          ? gray
          : resizeLanczos(gray, w, h, info.resizedWidth, info.resizedHeight);

  // Center crop with floor offsets.
  info.cropSize = imageSize;
  info.cropTop = (info.resizedHeight - imageSize) / 2;
  info.cropLeft = (info.resizedWidth - imageSize) / 2;
  info.crop.resize(static_cast<size_t>(imageSize) * imageSize);
  for (int y = 0; y < imageSize; ++y)
    std::copy_n(&resized[static_cast<size_t>(y + info.cropTop) * info.resizedWidth + info.cropLeft], imageSize,
                &info.crop[static_cast<size_t>(y) * imageSize]);
  return info;
}

std::vector<float> normalizePixels(const std::vector<uint8_t>& crop, double mean, double std) {
  // numpy: uint8 * (1/255) is float64, then astype(float32); normalize in float32 with float32
  // mean/std scalars.
  const float m = static_cast<float>(mean), s = static_cast<float>(std);
  const double scale = 1.0 / 255.0;
  std::vector<float> out(crop.size());
  for (size_t i = 0; i < crop.size(); ++i) {
    const float x = static_cast<float>(crop[i] * scale);
    out[i] = (x - m) / s;
  }
  return out;
}

}  // namespace cxr::detail
