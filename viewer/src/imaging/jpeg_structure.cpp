// The marker walk of jpeg_structure.h (ITU T.81 annex B; JPEG-LS, T.87, uses the same markers).
#include "jpeg_structure.h"

namespace cxr::viewer::detail {
namespace {

constexpr uint8_t kSoi = 0xD8, kEoi = 0xD9, kSos = 0xDA, kSof55 = 0xF7;

bool isFrameHeader(uint8_t marker) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC); JPEG-LS SOF55.
  return (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) || marker == kSof55;
}
bool isRestart(uint8_t marker) { return marker >= 0xD0 && marker <= 0xD7; }

}  // namespace

JpegStructure readJpegStructure(const uint8_t* data, size_t size) {
  JpegStructure out;
  const auto truncated = [&](size_t at) {
    out.truncated = true;
    out.problem = QStringLiteral("the JPEG data stop after %1 bytes, before their end-of-image marker, so the lower part of "
                                 "the image is missing (the data are truncated)").arg(at);
    return out;
  };
  if (size < 2 || data[0] != 0xFF || data[1] != kSoi) {
    out.problem = QStringLiteral("the data do not start with a JPEG start-of-image marker");
    return out;
  }
  size_t pos = 2;
  while (true) {
    // Between segments only markers belong; skip stray bytes and fill bytes (FF FF ...) as libjpeg does.
    while (pos < size && data[pos] != 0xFF) ++pos;
    while (pos + 1 < size && data[pos + 1] == 0xFF) ++pos;
    if (pos + 1 >= size) return truncated(size);
    const uint8_t marker = data[pos + 1];
    pos += 2;
    if (marker == kEoi) {
      out.complete = true;
      return out;
    }
    if (isRestart(marker) || marker == 0x01 || marker == 0x00) continue;  // markers without a segment
    if (pos + 2 > size) return truncated(size);
    const size_t length = size_t(data[pos]) << 8 | data[pos + 1];
    if (length < 2) {
      out.problem = QStringLiteral("a JPEG marker segment at byte %1 has the impossible length %2").arg(pos).arg(length);
      return out;
    }
    if (pos + length > size) return truncated(size);
    if (isFrameHeader(marker) && !out.hasFrameHeader && length >= 8) {
      out.hasFrameHeader = true;
      out.precision = data[pos + 2];
      out.height = int(data[pos + 3]) << 8 | data[pos + 4];
      out.width = int(data[pos + 5]) << 8 | data[pos + 6];
      out.components = data[pos + 7];
    }
    pos += length;
    if (marker != kSos) continue;
    // Entropy-coded data run to the next marker. Inside them an FF is followed by 00 (JPEG byte
    // stuffing), by a byte below 80 (JPEG-LS bit stuffing) or by a restart marker; any other FF xx
    // with xx >= C0 is the next marker.
    while (pos + 1 < size && !(data[pos] == 0xFF && data[pos + 1] >= 0xC0 && !isRestart(data[pos + 1]))) ++pos;
    if (pos + 1 >= size) return truncated(size);
  }
}

}  // namespace cxr::viewer::detail
