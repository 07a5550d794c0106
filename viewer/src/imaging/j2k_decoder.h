// Internal to cxr_imaging: one JPEG 2000 frame (raw codestream or JP2 file) decoded with OpenJPEG.
// Debian's DCMTK has no JPEG 2000 codec, so the DICOM loader hands encapsulated frames here.
#pragma once

#include <QString>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cxr::viewer::detail {

struct J2kFrame {
  int width = 0;
  int height = 0;
  int components = 0;
  int precision = 0;     // bits per sample as the codestream declares them (may differ from BitsStored)
  bool isSigned = false; // the codestream's own signedness (may differ from PixelRepresentation)
  std::vector<int32_t> samples;  // width*height*components, interleaved, as decoded
};

// What the DICOM header promises; the codestream header is checked against it BEFORE decoding, so a
// corrupt header cannot make OpenJPEG allocate gigabytes.
struct J2kExpectation {
  int width = 0;
  int height = 0;
  int components = 1;
  int maxPrecision = 32;  // Bits Allocated: a deeper codestream's values cannot be what the header describes
};

// Returns false and sets *error (a phrase, without the file name) on failure.
bool decodeJ2kFrame(const uint8_t* data, size_t size, const J2kExpectation& expect, J2kFrame& out, QString* error);

}  // namespace cxr::viewer::detail
