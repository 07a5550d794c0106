// Reads an image file into the engine's 8-bit input. With the viewer's imaging library (DICOM,
// 16-bit PNG, MONOCHROME1...) the viewer's default-window rendering is used, so the model sees what
// the viewer shows by default; without it (a build with CXR_BUILD_VIEWER=OFF) only 8-bit files
// that Qt can read are accepted.
#pragma once

#include <string>

#include "cxr/model/engine.h"

namespace cxr::cli {

// Throws std::runtime_error with a one-line message naming the file and the problem. Images beyond
// the pixel budget (megapixels per frame, per file) are refused from their header, before decoding.
cxr::ImageInput readImageForModel(const std::string& path, double maxImageMegapixels, double maxFileMegapixels);

}  // namespace cxr::cli
