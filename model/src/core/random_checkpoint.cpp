// writeRandomCheckpoint: a checkpoint folder in the exact CXR-LLaVA v2 layout filled with random
// numbers, so that speed and memory can be measured without the real 14 GB of weights. Streams
// every tensor to disk in small chunks (never more than a few MiB in memory). No torch needed.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/json.h"
#include "core/model_config.h"
#include "core/weight_table.h"
#include "cxr/model/tools.h"

namespace fs = std::filesystem;

namespace cxr {

namespace {

struct Preset {
  detail::ModelConfig cfg;
  int shards = 3;
};

Preset presetFor(const std::string& name) {
  Preset p;
  auto& c = p.cfg;
  c.kind = ModelKind::CxrLlava;
  c.llama.rmsEps = 1e-5;
  c.llama.maxPositions = 4096;
  if (name == "7b") {  // spec section 2: the real shapes
    c.vision = detail::VisionConfig{};  // 512 / 16 / 1024 / 24 layers / head width 64
    c.llama = detail::LlamaConfig{};    // 4096 / 11008 / 32 layers / 32 heads / vocab 32000
    c.llama.rmsEps = 1e-5;
    c.llama.maxPositions = 4096;
  } else if (name == "tiny") {
    c.vision.imageSize = 64;
    c.vision.patchSize = 16;
    c.vision.width = 64;
    c.vision.layers = 2;
    c.vision.headWidth = 16;
    c.vision.embedDim = 16;
    c.llama.hidden = 64;
    c.llama.intermediate = 176;
    c.llama.layers = 2;
    c.llama.heads = 4;
    c.llama.kvHeads = 4;
    c.llama.headDim = 16;
    c.llama.vocab = 32000;  // the LLaMA-2 tokenizer's size
  } else {
    throw ModelError("unknown checkpoint preset '" + name + "': use 7b or tiny");
  }
  c.projectorIn = c.vision.width;
  return p;
}

std::string configJson(const detail::ModelConfig& c, const std::string& torchDtype, bool writeHeadWidth) {
  const auto& v = c.vision;
  const auto& l = c.llama;
  std::string s = "{\n";
  s += "  \"_name_or_path\": \"random-cxr-llava-v2\",\n";
  s += "  \"architectures\": [\"CXRLLAVAModel\"],\n";
  s += "  \"clip_embed_dim\": " + std::to_string(v.embedDim) + ",\n";
  s += "  \"clip_quick_gelu\": false,\n";
  s += "  \"clip_vision_cfg\": {\"image_size\": " + std::to_string(v.imageSize) +
       ", \"layers\": " + std::to_string(v.layers) + ", \"patch_size\": " + std::to_string(v.patchSize) +
       ", \"width\": " + std::to_string(v.width) +
       (writeHeadWidth ? ", \"head_width\": " + std::to_string(v.headWidth) : std::string()) + "},\n";
  s += "  \"clip_vision_tower_dtype\": \"bf16\",\n";
  s += "  \"image_aspect_ratio\": \"square\",\n";
  s += "  \"image_preprocess_cfg\": {\"mean\": 0.5518136078431373, \"std\": 0.3821719215686275},\n";
  s += "  \"llama\": {\n";
  s += "    \"architectures\": [\"LlamaForCausalLM\"],\n";
  s += "    \"bos_token_id\": 1,\n    \"eos_token_id\": 2,\n    \"hidden_act\": \"silu\",\n";
  s += "    \"hidden_size\": " + std::to_string(l.hidden) + ",\n";
  s += "    \"intermediate_size\": " + std::to_string(l.intermediate) + ",\n";
  s += "    \"max_position_embeddings\": " + std::to_string(l.maxPositions) + ",\n";
  s += "    \"model_type\": \"llama\",\n";
  s += "    \"num_attention_heads\": " + std::to_string(l.heads) + ",\n";
  s += "    \"num_hidden_layers\": " + std::to_string(l.layers) + ",\n";
  s += "    \"num_key_value_heads\": " + std::to_string(l.kvHeads) + ",\n";
  s += "    \"rms_norm_eps\": 1e-05,\n    \"rope_scaling\": null,\n    \"rope_theta\": 10000.0,\n";
  s += "    \"tie_word_embeddings\": false,\n    \"torch_dtype\": \"" + torchDtype + "\",\n";
  s += "    \"vocab_size\": " + std::to_string(l.vocab) + "\n  },\n";
  s += "  \"llama_model_dtype\": \"bf16\",\n";
  s += "  \"mm_projector_dim\": " + std::to_string(c.projectorIn) + ",\n";
  s += "  \"mm_projector_dtype\": \"fp32\",\n";
  s += "  \"model_type\": \"CXR-LLAVA\",\n";
  s += "  \"torch_dtype\": \"" + torchDtype + "\",\n";
  s += "  \"transformers_version\": \"4.36.2\"\n}\n";
  return s;
}

// xorshift64*: fast enough to fill 7 billion values in seconds.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
};

uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);  // round to nearest even
  return uint16_t(u >> 16);
}

uint16_t floatToF16(float f) {  // small magnitudes only (|f| < 65504), no NaN handling needed
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  int exp = int((u >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = u & 0x7FFFFF;
  if (exp <= 0) return uint16_t(sign);  // flush tiny values to zero
  if (exp >= 31) return uint16_t(sign | 0x7BFF);
  return uint16_t(sign | uint32_t(exp) << 10 | (mant >> 13));
}

}  // namespace

void writeRandomCheckpoint(const std::string& outFolder, const std::string& preset, const std::string& dtype,
                           const std::string& tokenizerSource, uint64_t seed, const LoadProgress& progress) {
  Preset p = presetFor(preset);
  std::string st, torchDtype;
  int elem = 2;
  if (dtype == "bf16") { st = "BF16"; torchDtype = "bfloat16"; }
  else if (dtype == "f16") { st = "F16"; torchDtype = "float16"; }
  else if (dtype == "f32") { st = "F32"; torchDtype = "float32"; elem = 4; }
  else throw ModelError("unknown dtype '" + dtype + "' for a random checkpoint: use bf16, f16 or f32");

  std::error_code ec;
  const fs::path out(outFolder);
  fs::create_directories(out, ec);
  if (ec) throw ModelError("cannot create " + outFolder + ": " + ec.message());
  const fs::path tokModel = fs::path(tokenizerSource) / "tokenizer.model";
  if (!fs::exists(tokModel, ec))
    throw ModelError("no tokenizer.model in " + tokenizerSource + ": give a folder with the LLaMA-2 tokenizer files");
  for (const char* f : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}) {
    const fs::path src = fs::path(tokenizerSource) / f;
    if (fs::exists(src, ec)) {
      fs::copy_file(src, out / f, fs::copy_options::overwrite_existing, ec);
      if (ec) throw ModelError("cannot copy " + src.string() + " to " + outFolder + ": " + ec.message());
    }
  }
  {
    std::ofstream cfg(out / "config.json", std::ios::binary);
    cfg << configJson(p.cfg, torchDtype, preset != "7b");  // the real file omits head_width
    std::ofstream gen(out / "generation_config.json", std::ios::binary);
    gen << "{\n  \"_from_model_config\": true,\n  \"transformers_version\": \"4.36.2\"\n}\n";
    if (!cfg || !gen) throw ModelError("cannot write config.json in " + outFolder);
  }

  // Split the table into shards of about equal size, in table order.
  const auto table = detail::expectedTensors(p.cfg);
  uint64_t total = 0;
  for (const auto& t : table) {
    uint64_t n = 1;
    for (auto d : t.shape) n *= uint64_t(d);
    total += n * uint64_t(elem);
  }
  std::vector<std::vector<const detail::ExpectedTensor*>> shards(size_t(p.shards));
  {
    uint64_t acc = 0;
    for (const auto& t : table) {
      uint64_t n = 1;
      for (auto d : t.shape) n *= uint64_t(d);
      size_t s = std::min(size_t(p.shards - 1), size_t(double(acc) / double(total) * p.shards));
      shards[s].push_back(&t);
      acc += n * uint64_t(elem);
    }
  }

  Rng rng{seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL};
  const float amplitude = 0.02f * std::sqrt(3.0f);  // uniform with standard deviation 0.02
  std::string weightMap;
  uint64_t written = 0;
  std::vector<char> buf(size_t(8) << 20);
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
    uint64_t offset = 0;
    for (const auto* t : shards[s]) {
      uint64_t n = 1;
      for (auto d : t->shape) n *= uint64_t(d);
      header += "," + detail::jsonQuoted(t->name) + ":{\"dtype\":\"" + st + "\",\"shape\":" +
                detail::shapeString(t->shape) + ",\"data_offsets\":[" + std::to_string(offset) + "," +
                std::to_string(offset + n * uint64_t(elem)) + "]}";
      offset += n * uint64_t(elem);
      weightMap += std::string(weightMap.empty() ? "" : ",\n") + "    " + detail::jsonQuoted(t->name) +
                   ": \"" + name + "\"";
    }
    header += "}";
    while ((header.size() % 8) != 0) header += ' ';
    std::ofstream f(out / name, std::ios::binary);
    uint64_t len = header.size();
    char lenBytes[8];
    for (int i = 0; i < 8; ++i) lenBytes[i] = char((len >> (8 * i)) & 0xFF);
    f.write(lenBytes, 8);
    f.write(header.data(), std::streamsize(header.size()));
    for (const auto* t : shards[s]) {
      if (progress && !progress(double(written) / double(total), std::string("writing ") + name + ": " + t->name))
        throw LoadCancelled();
      uint64_t n = 1;
      for (auto d : t->shape) n *= uint64_t(d);
      const detail::WeightInit init = t->init;
      uint64_t left = n;
      while (left > 0) {
        const uint64_t chunk = std::min<uint64_t>(left, buf.size() / size_t(elem));
        for (uint64_t i = 0; i < chunk; ++i) {
          float v = init == detail::WeightInit::Ones ? 1.0f : init == detail::WeightInit::Zeros ? 0.0f
                    : (float(rng.next() >> 40) / float(1 << 24) * 2.0f - 1.0f) * amplitude;
          if (elem == 4) {
            std::memcpy(buf.data() + i * 4, &v, 4);
          } else {
            uint16_t h = st == "BF16" ? floatToBf16(v) : floatToF16(v);
            std::memcpy(buf.data() + i * 2, &h, 2);
          }
        }
        f.write(buf.data(), std::streamsize(chunk * uint64_t(elem)));
        left -= chunk;
      }
      written += n * uint64_t(elem);
    }
    if (!f) throw ModelError(std::string("cannot write ") + name + " in " + outFolder + " (disk full?)");
  }
  std::ofstream index(out / "model.safetensors.index.json", std::ios::binary);
  index << "{\n  \"metadata\": {\n    \"total_size\": " << total << "\n  },\n  \"weight_map\": {\n"
        << weightMap << "\n  }\n}\n";
  if (!index) throw ModelError("cannot write model.safetensors.index.json in " + outFolder);
  if (progress) progress(1.0, "done");
}

}  // namespace cxr
