// The DICOM grayscale display pipeline (PS3.3 C.11, PS3.4 N.2), one frame at a time:
//
//   stored value -> Modality LUT (LUT sequence, else rescale slope/intercept)
//                -> VOI (window LINEAR / LINEAR_EXACT / SIGMOID, or a VOI LUT)
//                -> inversion (MONOCHROME1, Presentation LUT Shape INVERSE, user toggle) AFTER VOI
//                -> 8-bit display value.
//
// Every step depends only on the stored value, so the whole chain is folded into one 8-bit table
// over [minStored, maxStored] each time the window changes, and pixels are mapped through it.
// A 3000x3000 frame then costs one table lookup per pixel.
#include "cxr/viewer/radiograph.h"

#include <QtGlobal>

#include <algorithm>
#include <cmath>
#include <thread>

namespace cxr::viewer {
namespace {

// Past this many stored values (only possible with 32-bit data) the table would be larger than the
// frame is worth, so such images are mapped value by value.
constexpr qint64 kMaxTableSize = qint64(1) << 22;
// Frames above this many pixels are mapped on two threads.
constexpr size_t kParallelPixels = size_t(1) << 20;

quint8 toByte(double y) { return quint8(std::clamp(std::floor(y + 0.5), 0.0, 255.0)); }

// Largest output value of a VOI LUT: the descriptor's bit depth, unless the data disagree (some
// writers put 16 in the descriptor and store 12-bit entries, or the reverse).
double voiLutMaxOutput(const LookupTable& lut) {
  quint16 largest = 0;
  for (quint16 v : lut.data) largest = std::max(largest, v);
  const int bits = std::clamp(lut.bitsPerEntry, 1, 16);
  double maxOut = double((1 << bits) - 1);
  if (largest > maxOut) maxOut = 65535.0;
  return std::max(maxOut, 1.0);
}

// One display value for one modality value under the selection, before inversion.
struct VoiStage {
  const VoiWindow* window = nullptr;
  const LookupTable* lut = nullptr;
  double lutMax = 1;
  double operator()(double modality) const {
    if (lut) return lut->lookup(modality) * 255.0 / lutMax;
    return applyWindow(*window, modality, 0.0, 255.0);
  }
};

// Maps src rows [row0, row1) of a gray frame through the table into an 8-bit image. `stride` is
// the distance between rows of src in pixels (wider than `width` when rendering part of a frame).
void mapGrayRows(const qint32* src, int width, size_t stride, int row0, int row1, const quint8* table,
                 qint32 first, QImage& out) {
  for (int y = row0; y < row1; ++y) {
    const qint32* in = src + size_t(y) * stride;
    uchar* line = out.scanLine(y);
    for (int x = 0; x < width; ++x) line[x] = table[in[x] - first];
  }
}

void mapColourRows(const qint32* src, int width, size_t stride, int row0, int row1, const quint8* table,
                   QImage& out) {
  for (int y = row0; y < row1; ++y) {
    const qint32* in = src + size_t(y) * stride * 3;
    auto* line = reinterpret_cast<QRgb*>(out.scanLine(y));
    for (int x = 0; x < width; ++x) {
      const auto channel = [&](int c) { return table[std::clamp(in[3 * x + c], 0, 255)]; };
      line[x] = qRgb(channel(0), channel(1), channel(2));
    }
  }
}

// Runs rowJob(row0, row1) over all rows, split in two when the frame is large.
template <typename Job>
void forRows(int height, size_t pixels, Job rowJob) {
  if (pixels < kParallelPixels || height < 2) {
    rowJob(0, height);
    return;
  }
  const int half = height / 2;
  std::thread worker([&] { rowJob(half, height); });
  rowJob(0, half);
  worker.join();
}

// Sorted order statistics of one frame's stored values, through a histogram.
class StoredHistogram {
 public:
  StoredHistogram(const RadiographImage& image, int frame) : first_(image.minStored) {
    const qint64 span = qint64(image.maxStored) - image.minStored + 1;
    binWidth_ = std::max<qint64>(1, span / 65536 + (span % 65536 ? 1 : 0));
    counts_.assign(size_t((span + binWidth_ - 1) / binWidth_), 0);
    for (qint32 v : image.framesData[size_t(frame)]) ++counts_[size_t((qint64(v) - first_) / binWidth_)];
    total_ = image.framesData[size_t(frame)].size();
  }
  // The stored value below which a fraction p of the pixels lie.
  qint32 percentile(double p) const {
    const double target = std::clamp(p, 0.0, 1.0) * double(total_);
    double seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += double(counts_[i]);
      if (seen >= target && counts_[i] > 0) return qint32(first_ + qint64(i) * binWidth_);
    }
    return qint32(first_ + qint64(counts_.size() - 1) * binWidth_);
  }

 private:
  qint64 first_;
  qint64 binWidth_ = 1;
  std::vector<size_t> counts_;
  size_t total_ = 0;
};

VoiWindow windowBetween(double lo, double hi, const QString& name) {
  if (hi <= lo) hi = lo + 1;
  VoiWindow w;
  w.center = (lo + hi) / 2.0;
  w.width = hi - lo;
  w.function = VoiWindow::Function::LinearExact;
  w.explanation = name;
  return w;
}

}  // namespace

double applyWindow(const VoiWindow& window, double x, double yMin, double yMax) {
  const double c = window.center;
  const double range = yMax - yMin;
  switch (window.function) {
    case VoiWindow::Function::Linear: {
      // PS3.3 C.11.2.1.2.1. Width must be >= 1; a smaller one is treated as 1 (a hard threshold).
      const double w = std::max(window.width, 1.0);
      if (x <= c - 0.5 - (w - 1) / 2) return yMin;
      if (x > c - 0.5 + (w - 1) / 2) return yMax;
      return ((x - (c - 0.5)) / (w - 1) + 0.5) * range + yMin;
    }
    case VoiWindow::Function::LinearExact: {
      // PS3.3 C.11.2.1.3.2. Width must be > 0; zero or less becomes a threshold at the center.
      const double w = window.width;
      if (w <= 0) return x <= c ? yMin : yMax;
      if (x <= c - w / 2) return yMin;
      if (x > c + w / 2) return yMax;
      return ((x - c) / w + 0.5) * range + yMin;
    }
    case VoiWindow::Function::Sigmoid: {
      // PS3.3 C.11.2.1.3.1.
      const double w = window.width;
      if (w <= 0) return x <= c ? yMin : yMax;
      return range / (1.0 + std::exp(-4.0 * (x - c) / w)) + yMin;
    }
  }
  return yMin;
}

VoiWindow fullRangeWindow(const RadiographImage& image) {
  const QString name = QStringLiteral("Full range");
  // Ordinary 8-bit files and all colour images: the whole 0..255 scale, i.e. the identity, so the
  // file's own bytes are what is shown and what the model receives.
  if (image.samplesPerPixel != 1 || (!image.isDicom && image.bitsStored <= 8)) return windowBetween(0, 255, name);
  return windowBetween(image.minModality(), image.maxModality(), name);
}

VoiSelection defaultVoi(const RadiographImage& image) {
  VoiSelection selection;
  if (image.samplesPerPixel == 1 && !image.fileWindows.isEmpty())
    selection.window = image.fileWindows.front();
  else if (image.samplesPerPixel == 1 && !image.voiLuts.empty())
    selection.voiLutIndex = 0;
  else
    selection.window = fullRangeWindow(image);
  return selection;
}

// Presets for radiographs, defined on the frame's own histogram rather than on Hounsfield units
// (radiographs have no calibrated scale). Percentiles are taken in DISPLAY order (dark to bright as
// shown, so a MONOCHROME1 image uses the mirrored percentiles) and the windows are LINEAR_EXACT:
//   Soft tissue  display percentiles  2 .. 98   balanced contrast over the central 96 % of pixels
//   Lung         display percentiles  2 .. 65   spreads the darker (air-filled) part over the whole
//                                               gray scale; mediastinum and bone saturate white
//   Bone         display percentiles 35 .. 99.5 spreads the brighter part (mediastinum, bone,
//                                               lines and tubes); lungs go black
QList<VoiWindow> radiographPresets(const RadiographImage& image, int frame) {
  QList<VoiWindow> presets = image.samplesPerPixel == 1 ? image.fileWindows : QList<VoiWindow>{};
  presets << fullRangeWindow(image);
  if (image.samplesPerPixel != 1 || frame < 0 || frame >= int(image.framesData.size()) ||
      image.framesData[size_t(frame)].empty())
    return presets;

  const StoredHistogram histogram(image, frame);
  // Brighter on screen means a larger VOI input unless the display is inverted; a negative
  // rescale slope reverses stored order relative to modality order.
  const bool storedDescendsOnScreen = image.displayInverted() != (!image.modalityLut && image.rescaleSlope < 0);
  const auto modalityAtDisplayPercentile = [&](double p) {
    return image.modalityValue(histogram.percentile(storedDescendsOnScreen ? 1.0 - p : p));
  };
  const auto preset = [&](double pDark, double pBright, const QString& name) {
    const double a = modalityAtDisplayPercentile(pDark);
    const double b = modalityAtDisplayPercentile(pBright);
    return windowBetween(std::min(a, b), std::max(a, b), name);
  };
  presets << preset(0.02, 0.98, QStringLiteral("Soft tissue (percentiles 2-98)"))
          << preset(0.02, 0.65, QStringLiteral("Lung (percentiles 2-65)"))
          << preset(0.35, 0.995, QStringLiteral("Bone (percentiles 35-99.5)"));
  return presets;
}

namespace {

// Renders width x height stored values of `image` (rows `stride` pixels apart, starting at src):
// the one implementation behind every renderFrame overload, so a frame, a part of it and a
// reduced copy of it all go through the same table.
QImage renderValues(const RadiographImage& image, const qint32* src, int width, int height, size_t stride,
                    const VoiSelection& voi) {
  const size_t count = size_t(width) * size_t(height);
  const bool colour = image.samplesPerPixel == 3;

  const VoiWindow fallback = fullRangeWindow(image);
  VoiStage stage;
  if (!colour && voi.voiLutIndex && *voi.voiLutIndex >= 0 && *voi.voiLutIndex < int(image.voiLuts.size())) {
    stage.lut = &image.voiLuts[size_t(*voi.voiLutIndex)];
    stage.lutMax = voiLutMaxOutput(*stage.lut);
  } else {
    stage.window = voi.window ? &*voi.window : &fallback;
  }
  const bool invert = (!colour && image.displayInverted()) != voi.userInvert;

  if (colour) {
    // DICOM defines no VOI for colour; a window here acts on each channel's 0..255 value, and the
    // default (full range) is the identity.
    quint8 table[256];
    for (int v = 0; v < 256; ++v) {
      const quint8 y = toByte((*stage.window == fallback) ? double(v) : stage(v));
      table[v] = invert ? quint8(255 - y) : y;
    }
    QImage out(width, height, QImage::Format_RGB32);
    forRows(height, count, [&](int r0, int r1) { mapColourRows(src, width, stride, r0, r1, table, out); });
    return out;
  }

  QImage out(width, height, QImage::Format_Grayscale8);
  const qint64 span = qint64(image.maxStored) - image.minStored + 1;
  const auto display = [&](qint32 stored) {
    const quint8 y = toByte(stage(image.modalityValue(stored)));
    return invert ? quint8(255 - y) : y;
  };
  if (span > 0 && span <= kMaxTableSize) {
    std::vector<quint8> table(static_cast<size_t>(span));
    for (qint64 i = 0; i < span; ++i) table[size_t(i)] = display(qint32(image.minStored + i));
    forRows(height, count, [&](int r0, int r1) {
      mapGrayRows(src, width, stride, r0, r1, table.data(), image.minStored, out);
    });
  } else {
    for (int y = 0; y < height; ++y) {
      uchar* line = out.scanLine(y);
      const qint32* in = src + size_t(y) * stride;
      for (int x = 0; x < width; ++x) line[x] = display(in[x]);
    }
  }
  return out;
}

int channelsOf(const RadiographImage& image) { return image.samplesPerPixel == 3 ? 3 : 1; }

// The frame's stored values when the frame exists and holds all its pixels, else null.
const std::vector<qint32>* completeFrame(const RadiographImage& image, int frame) {
  if (frame < 0 || frame >= int(image.framesData.size()) || image.width <= 0 || image.height <= 0) return nullptr;
  const std::vector<qint32>& pixels = image.framesData[size_t(frame)];
  const size_t count = size_t(image.width) * size_t(image.height) * size_t(channelsOf(image));
  return pixels.size() < count ? nullptr : &pixels;
}

}  // namespace

QImage renderFrame(const RadiographImage& image, int frame, const VoiSelection& voi) {
  const std::vector<qint32>* pixels = completeFrame(image, frame);
  if (!pixels) return {};
  return renderValues(image, pixels->data(), image.width, image.height, size_t(image.width), voi);
}

QImage renderFrame(const RadiographImage& image, int frame, const VoiSelection& voi, QRect region, int factor) {
  if (factor > 1) return renderFrame(image, reduceFrame(image, frame, region, factor), voi);
  const std::vector<qint32>* pixels = completeFrame(image, frame);
  if (!pixels) return {};
  const QRect whole(0, 0, image.width, image.height);
  region = region.isEmpty() ? whole : (region & whole);
  if (region.isEmpty()) return {};
  // Straight from the frame's rows: no copy of the region.
  const qint32* first = pixels->data() + (size_t(region.top()) * size_t(image.width) + size_t(region.left())) *
                                             size_t(channelsOf(image));
  return renderValues(image, first, region.width(), region.height(), size_t(image.width), voi);
}

QImage renderFrame(const RadiographImage& image, const ReducedFrame& pixels, const VoiSelection& voi) {
  if (pixels.width <= 0 || pixels.height <= 0 || pixels.samplesPerPixel != channelsOf(image) ||
      pixels.values.size() < size_t(pixels.width) * size_t(pixels.height) * size_t(pixels.samplesPerPixel))
    return {};
  return renderValues(image, pixels.values.data(), pixels.width, pixels.height, size_t(pixels.width), voi);
}

QImage renderForModel(const RadiographImage& image, int frame, const std::optional<VoiSelection>& voi) {
  // The model always sees normal polarity (high = bright); the viewer's Invert toggle is a viewing
  // preference and is ignored here.
  VoiSelection selection = voi ? *voi : defaultVoi(image);
  selection.userInvert = false;
  const QImage rendered = renderFrame(image, frame, selection);
  if (rendered.isNull() || rendered.format() == QImage::Format_Grayscale8) return rendered;

  // Pillow's ITU-R 601-2 integer luma (Image.convert("L")).
  QImage gray(rendered.width(), rendered.height(), QImage::Format_Grayscale8);
  for (int y = 0; y < rendered.height(); ++y) {
    const auto* in = reinterpret_cast<const QRgb*>(rendered.constScanLine(y));
    uchar* out = gray.scanLine(y);
    for (int x = 0; x < rendered.width(); ++x)
      out[x] = uchar((qRed(in[x]) * 19595 + qGreen(in[x]) * 38470 + qBlue(in[x]) * 7471 + 0x8000) >> 16);
  }
  return gray;
}

}  // namespace cxr::viewer
