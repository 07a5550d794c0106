// Image preprocessing, byte-identical to the reference (spec section 4): Pillow's convert('L') and
// LANCZOS resize (Resample.c fixed point), then CLIPImageProcessor's center crop, rescale and
// normalise. Pure C++, no torch: the engine turns normalizePixels()'s output into a tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "cxr/model/types.h"

namespace cxr::detail {

// Gray conversion (Pillow's integer luma for RGB), shortest-edge resize to `imageSize` with
// Pillow's LANCZOS (skipped when the size already matches), long side int(size*long/short),
// center crop with floor offsets. Throws cxr::ModelError on an empty or inconsistent buffer.
cxr::PreprocessInfo preprocessImage(const cxr::ImageInput& image, int imageSize);

// (x * (1/255) in double, cast to float32) then (x - mean) / std with mean and std as float32,
// in float32, exactly as the reference. Output has crop.size() elements.
std::vector<float> normalizePixels(const std::vector<uint8_t>& crop, double mean, double std);

// The building blocks, exposed for tests.
std::vector<uint8_t> toGray(const cxr::ImageInput& image);
// Pillow Image.resize(..., LANCZOS) of a single-channel 8-bit image.
std::vector<uint8_t> resizeLanczos(const std::vector<uint8_t>& gray, int width, int height,
                                   int newWidth, int newHeight);

}  // namespace cxr::detail
