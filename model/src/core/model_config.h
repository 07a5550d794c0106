// config.json -> a commented struct with the spec's defaults (the weights it implies are in
// core/weight_table.h). No torch here: validation runs before any tensor exists.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cxr/model/types.h"

namespace cxr::detail {

// The plausible range of every size in config.json. The real model: hidden 4096, intermediate
// 11008, 32 layers, 32 heads of 128, vocab 32000, 4096 positions; vision 512 px, patch 16, width
// 1024, 24 layers, heads of 64. The limits leave room for any LLaMA/CLIP variant this engine could
// run and refuse numbers that can only be damage or mischief (2^30 layers: memory blow-up at load).
constexpr int kMaxLayers = 256;
constexpr int kMaxHidden = 65536;           // hidden_size, vision width, projector / embed dims
constexpr int kMaxIntermediate = 262144;
constexpr int kMaxHeads = 1024;
constexpr int kMaxHeadDim = 1024;           // head_dim, head_width
constexpr int kMaxVocab = 1 << 20;          // 1,048,576
constexpr int kMaxPositions = 131072;       // max_position_embeddings (the longest LLaMA: 128k)
constexpr int kMaxImageSize = 4096;
constexpr int kMaxImageTokens = 4096;       // (image_size / patch_size)^2; the reference has 1024

// clip_vision_cfg (spec section 3): open_clip VisionTransformer with CLIPVisionCfg defaults.
struct VisionConfig {
  int imageSize = 512;    // image_size
  int patchSize = 16;     // patch_size
  int width = 1024;       // width
  int layers = 24;        // layers
  int headWidth = 64;     // head_width (absent in the real config: the dataclass default 64)
  double mlpRatio = 4.0;  // mlp_ratio
  int embedDim = 128;     // top-level clip_embed_dim: columns of the unused `proj`
  double lnEps = 1e-5;    // nn.LayerNorm default

  int grid() const { return imageSize / patchSize; }
  int tokens() const { return grid() * grid(); }  // patch tokens (class token excluded)
  int heads() const { return width / headWidth; }
  int mlpWidth() const { return int(width * mlpRatio); }
};

// The `llama` sub-config (CXR-LLaVA) or the top level (plain LlamaForCausalLM); LlamaConfig
// defaults of transformers 4.36 where a key is absent.
struct LlamaConfig {
  int hidden = 4096;            // hidden_size
  int intermediate = 11008;     // intermediate_size
  int layers = 32;              // num_hidden_layers
  int heads = 32;               // num_attention_heads
  int kvHeads = 32;             // num_key_value_heads (absent: = heads)
  int headDim = 128;            // head_dim (absent: hidden / heads)
  int vocab = 32000;            // vocab_size
  double rmsEps = 1e-6;         // rms_norm_eps (LlamaConfig default; the real file says 1e-5 or 1e-6)
  double ropeTheta = 10000.0;   // rope_theta
  int maxPositions = 2048;      // max_position_embeddings: rotary cache / KV capacity
  bool tieWordEmbeddings = false;  // tie_word_embeddings
  int bosId = 1, eosId = 2;     // bos_token_id / eos_token_id
};

struct ModelConfig {
  ModelKind kind = ModelKind::CxrLlava;
  VisionConfig vision;          // CxrLlava only
  LlamaConfig llama;
  int projectorIn = 1024;       // mm_projector_dim: in_features of mm_projector (= vision width)
  double imageMean = 0.5518136078431373;  // image_preprocess_cfg.mean
  double imageStd = 0.3821719215686275;   // image_preprocess_cfg.std
  // Generation budget context: top-level max_position_embeddings, absent -> 2048 (spec 6.1).
  // For a plain LlamaForCausalLM it is the model's max_position_embeddings.
  int maxContext = 2048;
  std::string llamaPrefix = "llama.";  // "llama." (CXR-LLaVA) or "model." (HF LlamaForCausalLM)
  std::string configSha256;            // of the bytes read (provenance)

  // Positions one conversation can occupy, which sizes the rotary tables and bounds the KV cache:
  // the generation budget context (spec 6.1: the budget counts the image as one id, so it takes
  // tokens() - 1 positions more), never more than the model's max_position_embeddings.
  int contextPositions() const {
    const int imageExtra = kind == ModelKind::CxrLlava ? vision.tokens() - 1 : 0;
    return std::min(llama.maxPositions, maxContext + imageExtra);
  }
};

// Reads and validates `folder`/config.json. Every problem found is appended to `problems` (one
// sentence each, naming the key); the returned config is only meaningful when none were added.
ModelConfig readModelConfig(const std::string& configPath, std::vector<std::string>& problems);

std::string shapeString(const std::vector<int64_t>& shape);

}  // namespace cxr::detail
