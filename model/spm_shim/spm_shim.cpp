// cxr_spm: sentencepiece behind a plain C API (see spm_shim_api.h for why).
#include "spm_shim_api.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace {

// ---- Minimal protobuf wire format -------------------------------------------------------------
// Debian ships no sentencepiece_model.pb.h, so the one edit transformers makes for legacy=False
// (ModelProto.normalizer_spec.add_dummy_prefix = false) is done on the serialized bytes:
// ModelProto field 3 is normalizer_spec (a length-delimited message), NormalizerSpec field 3 is
// add_dummy_prefix (varint). Fields 1..7 of NormalizerSpec: name, precompiled_charsmap,
// add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, normalization_rule_tsv.

bool readVarint(const std::string& s, size_t& pos, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) return false;
    const auto byte = static_cast<uint8_t>(s[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

void writeVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

struct Field {
  uint32_t number;
  uint32_t wireType;
  size_t begin, end;            // the whole field (key included)
  size_t payloadBegin, payloadEnd;  // length-delimited payload (wire type 2 only)
};

// Splits a message into its fields; nullopt when the bytes are not a valid message.
std::optional<std::vector<Field>> parseFields(const std::string& s) {
  std::vector<Field> fields;
  size_t pos = 0;
  while (pos < s.size()) {
    Field f{};
    f.begin = pos;
    uint64_t key = 0;
    if (!readVarint(s, pos, key)) return std::nullopt;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wireType = static_cast<uint32_t>(key & 7);
    uint64_t v = 0;
    switch (f.wireType) {
      case 0: if (!readVarint(s, pos, v)) return std::nullopt; break;
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2:
        if (!readVarint(s, pos, v) || v > s.size() - pos) return std::nullopt;
        f.payloadBegin = pos;
        pos += v;
        f.payloadEnd = pos;
        break;
      default: return std::nullopt;
    }
    if (pos > s.size()) return std::nullopt;
    f.end = pos;
    fields.push_back(f);
  }
  return fields;
}

// Returns the model with normalizer_spec.add_dummy_prefix set to `value`, or nullopt.
std::optional<std::string> withDummyPrefix(const std::string& model, bool value) {
  const auto fields = parseFields(model);
  if (!fields) return std::nullopt;
  std::string out;
  bool found = false;
  for (const Field& f : *fields) {
    if (f.number != 3 || f.wireType != 2) {
      out.append(model, f.begin, f.end - f.begin);
      continue;
    }
    found = true;
    const std::string spec = model.substr(f.payloadBegin, f.payloadEnd - f.payloadBegin);
    const auto specFields = parseFields(spec);
    if (!specFields) return std::nullopt;
    std::string newSpec;
    for (const Field& g : *specFields)
      if (g.number != 3) newSpec.append(spec, g.begin, g.end - g.begin);
    writeVarint(newSpec, (3u << 3) | 0u);
    writeVarint(newSpec, value ? 1 : 0);
    writeVarint(out, (3u << 3) | 2u);
    writeVarint(out, newSpec.size());
    out += newSpec;
  }
  if (!found) {  // no normalizer_spec at all: add one holding only the flag
    std::string newSpec;
    writeVarint(newSpec, (3u << 3) | 0u);
    writeVarint(newSpec, value ? 1 : 0);
    writeVarint(out, (3u << 3) | 2u);
    writeVarint(out, newSpec.size());
    out += newSpec;
  }
  return out;
}

void setError(char* error, size_t capacity, const std::string& message) {
  if (!error || capacity == 0) return;
  const size_t n = std::min(capacity - 1, message.size());
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

size_t copyOut(const std::string& s, char* out, size_t capacity) {
  if (out) std::memcpy(out, s.data(), std::min(capacity, s.size()));
  if (out && s.size() < capacity) out[s.size()] = '\0';
  return s.size();
}

}  // namespace

struct cxr_spm {
  sentencepiece::SentencePieceProcessor processor;
};

extern "C" {

int cxr_spm_abi_version(void) { return CXR_SPM_ABI_VERSION; }

cxr_spm* cxr_spm_load(const char* path, int add_dummy_prefix, char* error, size_t error_capacity) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      setError(error, error_capacity, std::string(path) + ": cannot open the file");
      return nullptr;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (add_dummy_prefix == 0 || add_dummy_prefix == 1) {
      auto edited = withDummyPrefix(bytes, add_dummy_prefix == 1);
      if (!edited) {
        setError(error, error_capacity,
                 std::string(path) + ": not a sentencepiece model (the protobuf data is malformed)");
        return nullptr;
      }
      bytes = std::move(*edited);
    }
    auto spm = std::make_unique<cxr_spm>();
    const auto status = spm->processor.LoadFromSerializedProto(bytes);
    if (!status.ok()) {
      setError(error, error_capacity,
               std::string(path) + ": not a usable sentencepiece model (" + status.ToString() + ")");
      return nullptr;
    }
    return spm.release();
  } catch (const std::exception& e) {
    setError(error, error_capacity, std::string(path) + ": " + e.what());
    return nullptr;
  }
}

void cxr_spm_free(cxr_spm* spm) { delete spm; }

size_t cxr_spm_encode(const cxr_spm* spm, const char* text, size_t text_length, int32_t* ids,
                      size_t capacity) {
  try {
    std::vector<int> out;
    if (!spm->processor.Encode(std::string_view(text, text_length), &out).ok())
      return static_cast<size_t>(-1);
    for (size_t i = 0; i < out.size() && i < capacity; ++i) ids[i] = out[i];
    return out.size();
  } catch (...) {
    return static_cast<size_t>(-1);
  }
}

size_t cxr_spm_decode(const cxr_spm* spm, const int32_t* ids, size_t count, char* text,
                      size_t capacity) {
  try {
    const std::vector<int> in(ids, ids + count);
    std::string out;
    if (!spm->processor.Decode(in, &out).ok()) return static_cast<size_t>(-1);
    return copyOut(out, text, capacity);
  } catch (...) {
    return static_cast<size_t>(-1);
  }
}

size_t cxr_spm_id_to_piece(const cxr_spm* spm, int32_t id, char* piece, size_t capacity) {
  if (id < 0 || id >= spm->processor.GetPieceSize()) return 0;
  return copyOut(spm->processor.IdToPiece(id), piece, capacity);
}

int32_t cxr_spm_piece_to_id(const cxr_spm* spm, const char* piece, size_t piece_length) {
  return spm->processor.PieceToId(std::string_view(piece, piece_length));
}

int cxr_spm_piece_count(const cxr_spm* spm) { return spm->processor.GetPieceSize(); }

static bool inRange(const cxr_spm* spm, int32_t id) {
  return id >= 0 && id < spm->processor.GetPieceSize();
}
int cxr_spm_is_byte(const cxr_spm* spm, int32_t id) {
  return inRange(spm, id) && spm->processor.IsByte(id);
}
int cxr_spm_is_control(const cxr_spm* spm, int32_t id) {
  return inRange(spm, id) && spm->processor.IsControl(id);
}
int cxr_spm_is_unknown(const cxr_spm* spm, int32_t id) {
  return inRange(spm, id) && spm->processor.IsUnknown(id);
}
int cxr_spm_is_unused(const cxr_spm* spm, int32_t id) {
  return inRange(spm, id) && spm->processor.IsUnused(id);
}
int32_t cxr_spm_bos_id(const cxr_spm* spm) { return spm->processor.bos_id(); }
int32_t cxr_spm_eos_id(const cxr_spm* spm) { return spm->processor.eos_id(); }
int32_t cxr_spm_unk_id(const cxr_spm* spm) { return spm->processor.unk_id(); }

// A boolean field of ModelProto.normalizer_spec (ModelProto field 3): 1 or 0, `protoDefault` when
// the field is not set, -1 when the serialized model cannot be parsed.
static int normalizerSpecFlag(const cxr_spm* spm, uint32_t fieldNumber, int protoDefault) {
  const std::string proto = spm->processor.serialized_model_proto();
  const auto fields = parseFields(proto);
  if (!fields) return -1;
  for (const Field& f : *fields) {
    if (f.number != 3 || f.wireType != 2) continue;
    const std::string spec = proto.substr(f.payloadBegin, f.payloadEnd - f.payloadBegin);
    const auto specFields = parseFields(spec);
    if (!specFields) return -1;
    int value = protoDefault;
    for (const Field& g : *specFields)
      if (g.number == fieldNumber && g.wireType == 0) {
        size_t pos = g.begin;
        uint64_t key = 0, v = 0;
        readVarint(spec, pos, key);
        readVarint(spec, pos, v);
        value = v ? 1 : 0;
      }
    return value;
  }
  return protoDefault;
}

// NormalizerSpec.add_dummy_prefix (field 3) and remove_extra_whitespaces (field 4) both default
// to true.
int cxr_spm_add_dummy_prefix(const cxr_spm* spm) { return normalizerSpecFlag(spm, 3, 1); }
int cxr_spm_remove_extra_whitespaces(const cxr_spm* spm) { return normalizerSpecFlag(spm, 4, 1); }

}  // extern "C"
