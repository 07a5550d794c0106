// Test helper: RadiographImages built in memory (no file, no decoder), so a test of the display
// pipeline, the reduced proxy, measurements or the widget knows every stored value it works on.
// Files on disk are support/dicom_synthetic.h's job.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <algorithm>
#include <functional>
#include <vector>

namespace cxr::test {

// One gray frame of width x height stored values (row by row), 16 bits allocated and 12 stored,
// the stored range taken from the values; no rescale, window or calibration (tests add theirs).
inline cxr::viewer::RadiographImage grayRadiograph(int width, int height, std::vector<qint32> values) {
  cxr::viewer::RadiographImage img;
  img.width = width;
  img.height = height;
  img.bitsAllocated = 16;
  img.bitsStored = 12;
  if (!values.empty()) {
    img.minStored = *std::min_element(values.begin(), values.end());
    img.maxStored = *std::max_element(values.begin(), values.end());
  }
  img.framesData.push_back(std::move(values));
  return img;
}

// The same, with the stored value at (x, y) given by `value(x, y)`.
inline cxr::viewer::RadiographImage grayRadiograph(int width, int height, const std::function<qint32(int x, int y)>& value) {
  std::vector<qint32> values;
  values.reserve(size_t(width) * size_t(height));
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      values.push_back(value(x, y));
  return grayRadiograph(width, height, std::move(values));
}

}  // namespace cxr::test
