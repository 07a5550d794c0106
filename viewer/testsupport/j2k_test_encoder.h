// Encodes gray frames as JPEG 2000 codestreams in memory, for the tests and benchmarks that write
// their own JPEG 2000 DICOM files. The viewer itself only decodes JPEG 2000; this is not part of
// cxr_imaging, and only test and benchmark targets link it (cxr_j2k_test_encoder).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cxr::viewer::testsupport {

struct J2kEncodeSettings {
  int precision = 16;    // bits per sample in the codestream
  bool isSigned = false;
  float ratio = 0;       // 0: lossless (reversible 5/3); else a compression ratio (irreversible 9/7)
  int resolutions = 3;   // wavelet decomposition levels + 1
  int threads = 1;       // OpenJPEG encoder threads
};

// A raw J2K codestream (no JP2 box) of one `width` x `height` gray frame, row by row. Empty when
// OpenJPEG refuses the frame (e.g. too few pixels for `resolutions`).
std::vector<std::uint8_t> encodeJ2kGray(std::span<const int> values, int width, int height,
                                        const J2kEncodeSettings& settings);
std::vector<std::uint8_t> encodeJ2kGray(std::span<const std::uint16_t> values, int width, int height,
                                        const J2kEncodeSettings& settings);

}  // namespace cxr::viewer::testsupport
