// Every weight of the model, declared once: its name in the checkpoint, its shape (from
// config.json), how a random checkpoint fills it, and the slot of Weights it is bound to. The
// checkpoint validation (expectedTensors), the binding (transformer.cpp) and the random-checkpoint
// writer all walk this table, so a weight cannot be known to one and missing from another.
// No torch here: a slot is a function `(auto& weights) -> auto&` that only the binding calls (with
// the torch-side Weights of engine_internal.h); validation never instantiates it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/model_config.h"

namespace cxr::detail {

// How writeRandomCheckpoint fills a weight: norm gains 1, biases 0, everything else small noise.
enum class WeightInit { Random, Ones, Zeros };

// The slot of a weight that is stored but never used (vision_tower.proj: only CLIP's contrastive head).
struct NoSlot {};

// Every weight of the vision tower (not the projector) starts with this.
inline std::string visionTowerPrefix() { return "vision_tower."; }
// Name prefixes of the two layer stacks (the layer number and a '.' follow).
inline std::string visionLayersPrefix() { return "vision_tower.transformer.resblocks."; }
inline std::string llamaLayersPrefix(const ModelConfig& c) { return c.llamaPrefix + "layers."; }

// visit(name, shape, init, optional, slot) for every weight, in checkpoint order (the random
// checkpoint's shards follow it). `optional`: the checkpoint may omit it (lm_head.weight of a tied
// LlamaForCausalLM: the embedding is the head then).
template <class Visit>
void forEachWeight(const ModelConfig& c, Visit&& visit) {
  using Shape = std::vector<int64_t>;
  constexpr auto R = WeightInit::Random, One = WeightInit::Ones, Zero = WeightInit::Zeros;
  const auto& L = c.llama;
  const int64_t H = L.hidden, I = L.intermediate, V = L.vocab;
  const int64_t qOut = int64_t(L.heads) * L.headDim, kvOut = int64_t(L.kvHeads) * L.headDim;

  if (c.kind == ModelKind::CxrLlava) {
    const auto& v = c.vision;
    const int64_t W = v.width, P = v.patchSize, M = v.mlpWidth();
    // patch embed, 1 input channel, no bias; bound as is, reshaped to [W, P*P] by the binding
    visit("vision_tower.conv1.weight", Shape{W, 1, P, P}, R, false, [](auto& w) -> auto& { return w.patchW; });
    visit("vision_tower.class_embedding", Shape{W}, R, false, [](auto& w) -> auto& { return w.classEmb; });
    visit("vision_tower.positional_embedding", Shape{v.tokens() + 1, W}, R, false,
          [](auto& w) -> auto& { return w.posEmb; });
    visit("vision_tower.ln_pre.weight", Shape{W}, One, false, [](auto& w) -> auto& { return w.lnPreW; });
    visit("vision_tower.ln_pre.bias", Shape{W}, Zero, false, [](auto& w) -> auto& { return w.lnPreB; });
    for (size_t i = 0; i < size_t(v.layers); ++i) {
      const std::string b = visionLayersPrefix() + std::to_string(i) + ".";
      auto layer = [&](const char* name, Shape shape, WeightInit init, auto slot) {
        visit(b + name, std::move(shape), init, false, [i, slot](auto& w) -> auto& { return slot(w.vision[i]); });
      };
      layer("ln_1.weight", Shape{W}, One, [](auto& l) -> auto& { return l.ln1W; });
      layer("ln_1.bias", Shape{W}, Zero, [](auto& l) -> auto& { return l.ln1B; });
      layer("attn.in_proj_weight", Shape{3 * W, W}, R, [](auto& l) -> auto& { return l.inProjW; });  // Wq | Wk | Wv
      layer("attn.in_proj_bias", Shape{3 * W}, Zero, [](auto& l) -> auto& { return l.inProjB; });
      layer("attn.out_proj.weight", Shape{W, W}, R, [](auto& l) -> auto& { return l.outProjW; });
      layer("attn.out_proj.bias", Shape{W}, Zero, [](auto& l) -> auto& { return l.outProjB; });
      layer("ln_2.weight", Shape{W}, One, [](auto& l) -> auto& { return l.ln2W; });
      layer("ln_2.bias", Shape{W}, Zero, [](auto& l) -> auto& { return l.ln2B; });
      layer("mlp.c_fc.weight", Shape{M, W}, R, [](auto& l) -> auto& { return l.fcW; });
      layer("mlp.c_fc.bias", Shape{M}, Zero, [](auto& l) -> auto& { return l.fcB; });
      layer("mlp.c_proj.weight", Shape{W, M}, R, [](auto& l) -> auto& { return l.projW; });
      layer("mlp.c_proj.bias", Shape{W}, Zero, [](auto& l) -> auto& { return l.projB; });
    }
    visit("vision_tower.ln_post.weight", Shape{W}, One, false, [](auto& w) -> auto& { return w.lnPostW; });
    visit("vision_tower.ln_post.bias", Shape{W}, Zero, false, [](auto& w) -> auto& { return w.lnPostB; });
    visit("vision_tower.proj", Shape{W, v.embedDim}, R, false, NoSlot{});  // stored, unused by the LLM path
    visit("mm_projector.weight", Shape{H, c.projectorIn}, R, false, [](auto& w) -> auto& { return w.projectorW; });
    visit("mm_projector.bias", Shape{H}, Zero, false, [](auto& w) -> auto& { return w.projectorB; });
  }
  const std::string p = c.llamaPrefix;
  visit(p + "embed_tokens.weight", Shape{V, H}, R, false, [](auto& w) -> auto& { return w.embed; });
  for (size_t i = 0; i < size_t(L.layers); ++i) {
    const std::string b = llamaLayersPrefix(c) + std::to_string(i) + ".";
    auto layer = [&](const char* name, Shape shape, WeightInit init, auto slot) {
      visit(b + name, std::move(shape), init, false, [i, slot](auto& w) -> auto& { return slot(w.layers[i]); });
    };
    layer("self_attn.q_proj.weight", Shape{qOut, H}, R, [](auto& l) -> auto& { return l.wq; });
    layer("self_attn.k_proj.weight", Shape{kvOut, H}, R, [](auto& l) -> auto& { return l.wk; });
    layer("self_attn.v_proj.weight", Shape{kvOut, H}, R, [](auto& l) -> auto& { return l.wv; });
    layer("self_attn.o_proj.weight", Shape{H, qOut}, R, [](auto& l) -> auto& { return l.wo; });
    layer("mlp.gate_proj.weight", Shape{I, H}, R, [](auto& l) -> auto& { return l.wGate; });
    layer("mlp.up_proj.weight", Shape{I, H}, R, [](auto& l) -> auto& { return l.wUp; });
    layer("mlp.down_proj.weight", Shape{H, I}, R, [](auto& l) -> auto& { return l.wDown; });
    layer("input_layernorm.weight", Shape{H}, One, [](auto& l) -> auto& { return l.inputNorm; });
    layer("post_attention_layernorm.weight", Shape{H}, One, [](auto& l) -> auto& { return l.postNorm; });
  }
  visit(p + "norm.weight", Shape{H}, One, false, [](auto& w) -> auto& { return w.finalNorm; });
  // CXR-LLaVA always stores its untied head; a tied LlamaForCausalLM may omit it.
  visit("lm_head.weight", Shape{V, H}, R, c.kind == ModelKind::TextLlama && L.tieWordEmbeddings,
        [](auto& w) -> auto& { return w.lmHead; });
}

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  bool optional = false;  // lm_head.weight of a tied LlamaForCausalLM
  WeightInit init = WeightInit::Random;
};

// The table as a list (validation and the random-checkpoint writer).
inline std::vector<ExpectedTensor> expectedTensors(const ModelConfig& c) {
  std::vector<ExpectedTensor> t;
  forEachWeight(c, [&](std::string name, std::vector<int64_t> shape, WeightInit init, bool optional, auto) {
    t.push_back({std::move(name), std::move(shape), optional, init});
  });
  return t;
}

}  // namespace cxr::detail
