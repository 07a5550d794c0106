// Preprocessing against the golden crops: every case of every golden-cxrllava reference.json
// (512x512 no-resize, 64x64 downscale, 512x430 upscale + crop, 700x900 RGB JPEG downscale + crop)
// must give the byte-identical 8-bit crop, the same resize/crop geometry and the same normalised
// pixel values. Plus synthetic checks of the building blocks and of bad input.
#include <QCoreApplication>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "preprocess/preprocess.h"
#include "support/check.h"
#include "support/json_file.h"
#include "support/qt_image.h"

namespace fs = std::filesystem;

namespace {

// CXR-LLaVA's CLIPImageProcessor constants (spec section 4).
constexpr double kMean = 0.5518136078431373;
constexpr double kStd = 0.3821719215686275;

void testGoldenCrops(const std::string& shared) {
  int cases = 0;
  for (const std::string model : {"tiny64", "grid32"}) {
    const std::string root = shared + "/golden-cxrllava/" + model;
    for (const auto& entry : fs::directory_iterator(root)) {
      const fs::path ref = entry.path() / "reference.json";
      if (!fs::exists(ref)) continue;
      const auto golden = testjson::parseFile(ref.string());
      const int imageSize = static_cast<int>(golden["checkpoint"]["image_size"].get<double>());
      for (const auto& c : golden["cases"]) {
        const std::string image = c["image"].get<std::string>();
        const std::string label = model + "/" + entry.path().filename().string() + "/" + image;
        cxr::ImageInput input;
        if (!readTestImage(shared + "/cxr/" + image, input)) {
          CHECK(false, label + ": cannot read the input image");
          continue;
        }
        const auto& pre = c["preprocess"];
        CHECK(input.width == pre["orig_size_wh"][0].get<double>() && input.height == pre["orig_size_wh"][1].get<double>(),
              label + ": input size");
        CHECK((input.channels == 1) == (pre["pil_mode"].get<std::string>() == "L"), label + ": gray vs RGB as PIL saw it");
        const cxr::PreprocessInfo info = cxr::detail::preprocessImage(input, imageSize);
        CHECK(info.resizedWidth == pre["resized_size_wh"][0].get<double>() &&
                  info.resizedHeight == pre["resized_size_wh"][1].get<double>(),
              label + ": resized to " + std::to_string(info.resizedWidth) + "x" + std::to_string(info.resizedHeight));
        CHECK(info.cropTop == pre["crop_top_left"][0].get<double>() && info.cropLeft == pre["crop_top_left"][1].get<double>(),
              label + ": crop offsets");
        cxr::ImageInput goldenCrop;
        const std::string cropFile = entry.path().string() + "/" + fs::path(image).stem().string() + ".crop_uint8.png";
        CHECK(readTestImage(cropFile, goldenCrop) && goldenCrop.channels == 1, label + ": read golden crop");
        size_t differing = 0;
        int maxDiff = 0;
        for (size_t i = 0; i < std::min(goldenCrop.pixels.size(), info.crop.size()); ++i)
          if (goldenCrop.pixels[i] != info.crop[i]) {
            ++differing;
            maxDiff = std::max(maxDiff, std::abs(goldenCrop.pixels[i] - info.crop[i]));
          }
        CHECK(goldenCrop.pixels.size() == info.crop.size() && differing == 0,
              label + ": crop is byte-identical (" + std::to_string(differing) + " bytes differ, max by " +
                  std::to_string(maxDiff) + ")");
        uint64_t sum = 0;
        for (uint8_t v : info.crop) sum += v;
        CHECK(sum == static_cast<uint64_t>(pre["crop_uint8_sum"].get<double>()), label + ": crop sum");
        std::vector<int32_t> first16(info.crop.begin(), info.crop.begin() + 16);
        CHECK_EQ_VEC(first16, testjson::ints(pre["crop_uint8_first16"]), label + ": first 16 crop bytes");

        // Normalised pixel values: float32 exactly as the reference computed them.
        const auto pixels = cxr::detail::normalizePixels(info.crop, kMean, kStd);
        const auto& pv = c["pixel_values"];
        double total = 0;
        float lo = pixels[0], hi = pixels[0];
        for (float v : pixels) { total += v; lo = std::min(lo, v); hi = std::max(hi, v); }
        CHECK(std::abs(total - pv["sum"].get<double>()) <= 1e-6 * std::abs(pv["abs_sum"].get<double>()), label + ": pixel_values sum");
        CHECK(lo == static_cast<float>(pv["min"].get<double>()) && hi == static_cast<float>(pv["max"].get<double>()), label + ": min/max");
        for (size_t i = 0; i < 8; ++i) {
          CHECK(pixels[i] == static_cast<float>(pv["first8"][i].get<double>()), label + ": pixel_values first8 exact");
          CHECK(pixels[pixels.size() - 8 + i] == static_cast<float>(pv["last8"][i].get<double>()), label + ": pixel_values last8 exact");
        }
        ++cases;
      }
    }
  }
  CHECK(cases >= 9, "all golden cases were found (" + std::to_string(cases) + ")");
}

void testBuildingBlocks() {
  // Pillow's integer luma: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
  cxr::ImageInput rgb{2, 1, 3, {255, 0, 0, 10, 200, 30}};
  const auto gray = cxr::detail::toGray(rgb);
  CHECK(gray[0] == 76 && gray[1] == 124, "integer luma of (255,0,0) and (10,200,30)");
  // Same size: no resampling at all.
  std::vector<uint8_t> img(6 * 4);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 9);
  CHECK(cxr::detail::resizeLanczos(img, 6, 4, 6, 4) == img, "resize to the same size is a copy");
  // A constant image stays constant (coefficients sum to one in fixed point).
  std::vector<uint8_t> flat(37 * 23, 117);
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{64, 40}, {11, 7}, {37, 50}}) {
    const auto out = cxr::detail::resizeLanczos(flat, 37, 23, w, h);
    CHECK(std::all_of(out.begin(), out.end(), [](uint8_t v) { return v == 117; }), "constant stays constant");
  }
  // Normalisation: 0 and 255 map to (0-mean)/std and (1-mean)/std in float32.
  const auto n = cxr::detail::normalizePixels({0, 255}, kMean, kStd);
  CHECK(n[0] == (0.0f - static_cast<float>(kMean)) / static_cast<float>(kStd), "normalise 0");
  CHECK(n[1] == (1.0f - static_cast<float>(kMean)) / static_cast<float>(kStd), "normalise 255");
  // Tall image: the width becomes the image size, offsets are floor((H - S) / 2).
  cxr::ImageInput tall{10, 31, 1, std::vector<uint8_t>(310, 50)};
  const auto info = cxr::detail::preprocessImage(tall, 8);
  CHECK(info.resizedWidth == 8 && info.resizedHeight == 24 && info.cropTop == 8 && info.cropLeft == 0,
        "tall image geometry: int(8*31/10) = 24, top (24-8)//2 = 8");
}

void testBadInput() {
  auto throwsWith = [](const cxr::ImageInput& in, const std::string& word) {
    try {
      cxr::detail::preprocessImage(in, 64);
    } catch (const cxr::ModelError& e) {
      return std::string(e.what()).find(word) != std::string::npos;
    }
    return false;
  };
  CHECK(throwsWith(cxr::ImageInput{0, 0, 1, {}}, "empty"), "empty image is refused");
  CHECK(throwsWith(cxr::ImageInput{4, 4, 1, std::vector<uint8_t>(15)}, "bytes"), "short buffer is refused");
  CHECK(throwsWith(cxr::ImageInput{4, 4, 2, std::vector<uint8_t>(32)}, "channels"), "2 channels are refused");
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);  // image format plugins (JPEG) need the application's library paths
  const std::string shared = check::sharedData(argc, argv);
  try {
    testBuildingBlocks();
    testBadInput();
    if (shared.empty() || !fs::exists(shared + "/golden-cxrllava"))
      std::printf("SKIP golden crops: shared data not found (pass --shared DIR)\n");
    else
      testGoldenCrops(shared);
  } catch (const std::exception& e) {
    check::report(false, __FILE__, __LINE__, std::string("exception: ") + e.what());
  }
  return check::finish("test_preprocess");
}
