// JPEG 2000 decoding with OpenJPEG from a memory buffer.
#include "j2k_decoder.h"

#include <openjpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace cxr::viewer::detail {
namespace {

struct MemorySource {
  const uint8_t* data;
  size_t size;
  size_t offset;
};

OPJ_SIZE_T readMemory(void* buffer, OPJ_SIZE_T bytes, void* user) {
  auto* src = static_cast<MemorySource*>(user);
  if (src->offset >= src->size) return OPJ_SIZE_T(-1);  // OpenJPEG's end-of-stream signal
  const size_t n = std::min(size_t(bytes), src->size - src->offset);
  std::memcpy(buffer, src->data + src->offset, n);
  src->offset += n;
  return n;
}

OPJ_OFF_T skipMemory(OPJ_OFF_T bytes, void* user) {
  auto* src = static_cast<MemorySource*>(user);
  if (bytes < 0) {
    const size_t back = std::min(size_t(-bytes), src->offset);
    src->offset -= back;
    return -OPJ_OFF_T(back);
  }
  const size_t n = std::min(size_t(bytes), src->size - std::min(src->offset, src->size));
  src->offset += n;
  return OPJ_OFF_T(n);
}

OPJ_BOOL seekMemory(OPJ_OFF_T position, void* user) {
  auto* src = static_cast<MemorySource*>(user);
  if (position < 0 || size_t(position) > src->size) return OPJ_FALSE;
  src->offset = size_t(position);
  return OPJ_TRUE;
}

void recordError(const char* message, void* user) {
  auto* text = static_cast<QString*>(user);
  if (text->isEmpty()) *text = QString::fromUtf8(message).trimmed();
}
void ignoreMessage(const char*, void*) {}

struct CodecDeleter { void operator()(opj_codec_t* c) const { opj_destroy_codec(c); } };
struct StreamDeleter { void operator()(opj_stream_t* s) const { opj_stream_destroy(s); } };
struct ImageDeleter { void operator()(opj_image_t* i) const { opj_image_destroy(i); } };

// A JP2 file starts with the signature box; a raw codestream with SOC (FF 4F) then SIZ (FF 51).
bool isJp2File(const uint8_t* data, size_t size) {
  static const uint8_t kSignature[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20};
  return size >= sizeof kSignature && std::memcmp(data, kSignature, sizeof kSignature) == 0;
}

}  // namespace

bool decodeJ2kFrame(const uint8_t* data, size_t size, const J2kExpectation& expect, J2kFrame& out, QString* error) {
  const auto fail = [&](const QString& message) {
    if (error) *error = message;
    return false;
  };
  if (size < 16) return fail(QStringLiteral("the JPEG 2000 frame is only %1 bytes long").arg(size));
  const bool jp2 = isJp2File(data, size);
  if (!jp2 && !(data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51))
    return fail(QStringLiteral("the frame does not start with a JPEG 2000 codestream marker"));

  std::unique_ptr<opj_codec_t, CodecDeleter> codec(opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
  if (!codec) return fail(QStringLiteral("OpenJPEG could not create a decoder"));
  QString opjError;
  opj_set_error_handler(codec.get(), recordError, &opjError);
  opj_set_warning_handler(codec.get(), ignoreMessage, nullptr);
  opj_set_info_handler(codec.get(), ignoreMessage, nullptr);
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  if (!opj_setup_decoder(codec.get(), &parameters)) return fail(QStringLiteral("OpenJPEG rejected the decoder set-up"));
  opj_codec_set_threads(codec.get(), 2);

  MemorySource source{data, size, 0};
  std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE));
  if (!stream) return fail(QStringLiteral("OpenJPEG could not create a stream"));
  opj_stream_set_user_data(stream.get(), &source, nullptr);
  opj_stream_set_user_data_length(stream.get(), size);
  opj_stream_set_read_function(stream.get(), readMemory);
  opj_stream_set_skip_function(stream.get(), skipMemory);
  opj_stream_set_seek_function(stream.get(), seekMemory);

  opj_image_t* rawImage = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &rawImage)) {
    std::unique_ptr<opj_image_t, ImageDeleter> guard(rawImage);
    return fail(QStringLiteral("the JPEG 2000 header is unreadable (%1)").arg(opjError.isEmpty() ? QStringLiteral("no detail") : opjError));
  }
  std::unique_ptr<opj_image_t, ImageDeleter> image(rawImage);

  // Check the promised geometry before OpenJPEG allocates anything for the pixels.
  const qint64 width = qint64(image->x1) - image->x0;
  const qint64 height = qint64(image->y1) - image->y0;
  if (width != expect.width || height != expect.height)
    return fail(QStringLiteral("the JPEG 2000 codestream is %1x%2 but the DICOM header says %3x%4")
                    .arg(width).arg(height).arg(expect.width).arg(expect.height));
  if (int(image->numcomps) != expect.components)
    return fail(QStringLiteral("the JPEG 2000 codestream has %1 component(s), the DICOM header says %2 sample(s) per pixel")
                    .arg(image->numcomps).arg(expect.components));
  for (int c = 0; c < expect.components; ++c) {
    const opj_image_comp_t& comp = image->comps[c];
    if (comp.dx != 1 || comp.dy != 1)
      return fail(QStringLiteral("subsampled JPEG 2000 components are not supported"));
    if (comp.prec < 1 || comp.prec > 31)
      return fail(QStringLiteral("the JPEG 2000 precision %1 is out of range").arg(comp.prec));
    // Precision below Bits Stored happens in the wild and is harmless; above Bits Allocated the
    // values cannot be what the header describes.
    if (int(comp.prec) > expect.maxPrecision)
      return fail(QStringLiteral("the JPEG 2000 codestream has %1-bit samples, more than the %2 bits the DICOM header allocates")
                      .arg(comp.prec).arg(expect.maxPrecision));
  }

  if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get()))
    return fail(QStringLiteral("the JPEG 2000 data could not be decoded (%1)")
                    .arg(opjError.isEmpty() ? QStringLiteral("corrupt or truncated codestream") : opjError));

  out.width = int(width);
  out.height = int(height);
  out.components = expect.components;
  out.precision = int(image->comps[0].prec);
  out.isSigned = image->comps[0].sgnd != 0;
  const size_t pixels = size_t(width) * size_t(height);
  for (int c = 0; c < expect.components; ++c) {
    if (!image->comps[c].data || image->comps[c].w != image->comps[0].w || image->comps[c].h != image->comps[0].h)
      return fail(QStringLiteral("the JPEG 2000 decoder returned no data for component %1").arg(c));
  }
  out.samples.resize(pixels * size_t(expect.components));
  if (expect.components == 1) {
    std::memcpy(out.samples.data(), image->comps[0].data, pixels * sizeof(int32_t));
  } else {
    for (int c = 0; c < expect.components; ++c) {
      const OPJ_INT32* plane = image->comps[c].data;
      for (size_t i = 0; i < pixels; ++i) out.samples[i * size_t(expect.components) + size_t(c)] = plane[i];
    }
  }
  return true;
}

}  // namespace cxr::viewer::detail
