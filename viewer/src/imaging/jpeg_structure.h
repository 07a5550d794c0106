// Internal to cxr_imaging: the marker structure of a JPEG (or JPEG-LS) stream, read without
// decoding it. Used before decoding, for plain JPEG files and for JPEG frames inside DICOM:
// - the frame header (SOF) gives the size, components and precision the decoder will produce, so a
//   stream that disagrees with its DICOM header, or a decompression bomb, is refused first;
// - a stream that stops before its end-of-image marker is truncated. libjpeg only warns about it
//   ("Premature end of JPEG file") and fills the missing rows with gray, which nobody sees.
#pragma once

#include <QString>

#include <cstddef>
#include <cstdint>

namespace cxr::viewer::detail {

struct JpegStructure {
  bool hasFrameHeader = false;  // an SOF marker (any JPEG process, or JPEG-LS SOF55) was found
  int width = 0;
  int height = 0;               // 0 when the stream defines it later (DNL marker)
  int components = 0;
  int precision = 0;            // bits per sample
  bool complete = false;        // the end-of-image marker was reached
  bool truncated = false;       // the data end before the end-of-image marker (libjpeg decodes what it has)
  QString problem;              // when not complete: what is wrong, as a phrase ("the JPEG data stop ...")
};

// Walks the markers from SOI to EOI: segments by their lengths, entropy-coded data to the next
// marker. Never reads outside [data, data + size).
JpegStructure readJpegStructure(const uint8_t* data, size_t size);

}  // namespace cxr::viewer::detail
