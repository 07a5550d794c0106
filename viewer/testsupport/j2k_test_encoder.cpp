#include "j2k_test_encoder.h"

#include <openjpeg.h>

#include <cstring>

namespace cxr::viewer::testsupport {
namespace {

// OpenJPEG writes through callbacks; this one collects the bytes in memory.
struct Sink {
  std::vector<std::uint8_t> bytes;
  size_t position = 0;
};
OPJ_SIZE_T sinkWrite(void* buffer, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<Sink*>(user);
  if (s->position + n > s->bytes.size()) s->bytes.resize(s->position + n);
  std::memcpy(s->bytes.data() + s->position, buffer, n);
  s->position += n;
  return n;
}
OPJ_OFF_T sinkSkip(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<Sink*>(user);
  s->position += size_t(n);
  if (s->position > s->bytes.size()) s->bytes.resize(s->position);
  return n;
}
OPJ_BOOL sinkSeek(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<Sink*>(user);
  s->position = size_t(n);
  if (s->position > s->bytes.size()) s->bytes.resize(s->position);
  return OPJ_TRUE;
}

template <typename T>
std::vector<std::uint8_t> encode(std::span<const T> values, int width, int height, const J2kEncodeSettings& settings) {
  if (width <= 0 || height <= 0 || values.size() < size_t(width) * size_t(height)) return {};
  opj_image_cmptparm_t component{};
  component.dx = component.dy = 1;
  component.w = OPJ_UINT32(width);
  component.h = OPJ_UINT32(height);
  component.prec = OPJ_UINT32(settings.precision);
  component.sgnd = settings.isSigned ? 1 : 0;
  opj_image_t* image = opj_image_create(1, &component, OPJ_CLRSPC_GRAY);
  if (!image) return {};
  image->x1 = OPJ_UINT32(width);
  image->y1 = OPJ_UINT32(height);
  for (size_t i = 0; i < size_t(width) * size_t(height); ++i) image->comps[0].data[i] = OPJ_INT32(values[i]);
  opj_cparameters_t parameters;
  opj_set_default_encoder_parameters(&parameters);
  parameters.tcp_numlayers = 1;
  parameters.cp_disto_alloc = 1;
  parameters.tcp_rates[0] = settings.ratio;  // 0 = lossless
  parameters.irreversible = settings.ratio > 0 ? 1 : 0;
  parameters.numresolution = settings.resolutions;
  opj_codec_t* codec = opj_create_compress(OPJ_CODEC_J2K);
  Sink sink;
  bool ok = codec && opj_setup_encoder(codec, &parameters, image);
  if (ok && settings.threads > 1) opj_codec_set_threads(codec, settings.threads);
  opj_stream_t* stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_FALSE);
  opj_stream_set_user_data(stream, &sink, nullptr);
  opj_stream_set_write_function(stream, sinkWrite);
  opj_stream_set_skip_function(stream, sinkSkip);
  opj_stream_set_seek_function(stream, sinkSeek);
  ok = ok && opj_start_compress(codec, image, stream) && opj_encode(codec, stream) && opj_end_compress(codec, stream);
  opj_stream_destroy(stream);
  if (codec) opj_destroy_codec(codec);
  opj_image_destroy(image);
  if (!ok) sink.bytes.clear();
  return sink.bytes;
}

}  // namespace

std::vector<std::uint8_t> encodeJ2kGray(std::span<const int> values, int width, int height,
                                        const J2kEncodeSettings& settings) {
  return encode(values, width, height, settings);
}

std::vector<std::uint8_t> encodeJ2kGray(std::span<const std::uint16_t> values, int width, int height,
                                        const J2kEncodeSettings& settings) {
  return encode(values, width, height, settings);
}

}  // namespace cxr::viewer::testsupport
