#include "core/model_config.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "core/model_files.h"
#include "core/sha256.h"
#include "core/json.h"

namespace cxr::detail {

namespace {

// Reads typed keys from one JSON object and collects every problem instead of stopping at the
// first: a user fixing a config wants the whole list.
class KeyReader {
 public:
  KeyReader(const Json* object, std::string where, std::vector<std::string>& problems)
      : obj_(object), where_(std::move(where)), problems_(problems) {}

  // Every number has a plausible range: a value outside it cannot describe a model this engine
  // runs, and would otherwise size allocations (2^30 layers) or poison the maths (a NaN epsilon).
  // Returns false (problem reported, `out` unchanged) when the key is present but unusable.
  bool readInt(const char* key, int& out, bool required, int64_t minValue, int64_t maxValue) {
    const Json* v = get(key, required);
    if (!v) return true;
    const std::optional<int64_t> i = jsonInt(*v);
    if (!i || *i < minValue || *i > maxValue) {
      problem(key, "is " + shown(*v) + "; it must be an integer from " + std::to_string(minValue) + " to " +
                       std::to_string(maxValue));
      return false;
    }
    out = int(*i);
    return true;
  }
  void readDouble(const char* key, double& out, bool required, double minValue, double maxValue,
                  const char* why = "") {
    const Json* v = get(key, required);
    if (!v) return;
    // NaN fails both comparisons; infinities are outside every range.
    const double x = v->is_number() ? v->get<double>() : 0;
    if (!v->is_number() || !std::isfinite(x) || !(x >= minValue) || !(x <= maxValue)) {
      problem(key, "is " + shown(*v) + "; it must be a finite number from " + number(minValue) + " to " +
                       number(maxValue) + why);
      return;
    }
    out = x;
  }
  // A token id: absent/null keeps the default; otherwise inside the vocabulary.
  void readTokenId(const char* key, int& out, int vocab, bool allowMinusOne = false) {
    const Json* v = get(key, false);
    if (!v) return;
    const std::optional<int64_t> id = jsonInt(*v);
    if (allowMinusOne && id == -1) return;
    if (!id || *id < 0 || *id >= vocab) {
      problem(key, "is " + shown(*v) + "; it must be a token id inside the vocabulary (0 to " +
                       std::to_string(vocab - 1) + ", vocab_size " + std::to_string(vocab) + ")");
      return;
    }
    out = int(*id);
  }
  void readBool(const char* key, bool& out) {
    const Json* v = get(key, false);
    if (!v) return;
    if (!v->is_boolean()) {
      problem(key, "must be true or false");
      return;
    }
    out = v->get<bool>();
  }
  const Json* get(const char* key, bool required) {
    const Json* v = obj_ ? jsonMember(*obj_, key) : nullptr;
    if (v && v->is_null()) v = nullptr;
    if (!v && required) problems_.push_back("config.json: key " + where_ + key + " is missing");
    return v;
  }
  void problem(const char* key, const std::string& what) {
    problems_.push_back("config.json: " + where_ + key + " " + what);
  }
  static std::string number(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", x);
    return text;
  }
  // The value as the message quotes it.
  static std::string shown(const Json& v) {
    if (const std::optional<int64_t> i = jsonInt(v)) return std::to_string(*i);
    if (v.is_number()) {
      const double x = v.get<double>();
      if (std::isnan(x)) return "NaN";
      if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
      char text[32];
      std::snprintf(text, sizeof text, "%.17g", x);
      return text;
    }
    if (v.is_string()) {
      const std::string& t = v.get_ref<const std::string&>();
      return t.size() > 40 ? jsonQuoted(t.substr(0, 40)) + "..." : jsonQuoted(t);
    }
    return jsonTypeName(v);
  }

 private:
  const Json* obj_;
  std::string where_;
  std::vector<std::string>& problems_;
};

void readLlama(const Json* obj, const std::string& where, LlamaConfig& c,
               std::vector<std::string>& problems) {
  KeyReader r(obj, where, problems);
  const size_t problemsBefore = problems.size();
  r.readInt("hidden_size", c.hidden, true, 1, kMaxHidden);
  r.readInt("intermediate_size", c.intermediate, true, 1, kMaxIntermediate);
  r.readInt("num_hidden_layers", c.layers, true, 1, kMaxLayers);
  r.readInt("num_attention_heads", c.heads, true, 1, kMaxHeads);
  c.kvHeads = c.heads;
  r.readInt("num_key_value_heads", c.kvHeads, false, 1, kMaxHeads);
  r.readInt("vocab_size", c.vocab, true, 1, kMaxVocab);
  const bool explicitHeadDim = r.get("head_dim", false) != nullptr;
  c.headDim = c.hidden / c.heads;
  r.readInt("head_dim", c.headDim, false, 2, kMaxHeadDim);
  r.readDouble("rms_norm_eps", c.rmsEps, false, 1e-12, 0.1);
  r.readDouble("rope_theta", c.ropeTheta, false, 1.0, 1e9);
  r.readInt("max_position_embeddings", c.maxPositions, false, 1, kMaxPositions);
  r.readBool("tie_word_embeddings", c.tieWordEmbeddings);
  // The checks between keys only when the sizes themselves were usable (no follow-up noise).
  if (problems.size() != problemsBefore) return;
  r.readTokenId("bos_token_id", c.bosId, c.vocab);
  r.readTokenId("eos_token_id", c.eosId, c.vocab);
  int pad = 0;
  r.readTokenId("pad_token_id", pad, c.vocab, /*allowMinusOne=*/true);  // unused; -1: "none" in old conversions
  if (c.heads % c.kvHeads != 0)
    problems.push_back("config.json: " + where + "num_attention_heads (" + std::to_string(c.heads) +
                       ") is not a multiple of num_key_value_heads (" + std::to_string(c.kvHeads) + ")");
  if (!explicitHeadDim && c.hidden % c.heads != 0)
    problems.push_back("config.json: " + where + "hidden_size (" + std::to_string(c.hidden) +
                       ") is not a multiple of num_attention_heads (" + std::to_string(c.heads) +
                       "), and there is no head_dim");
  if (c.headDim % 2 != 0)
    problems.push_back("config.json: the attention head size " + std::to_string(c.headDim) +
                       " must be even for rotary embeddings");
}

void checkLlamaRest(const Json* obj, const std::string& where, std::vector<std::string>& problems) {
  KeyReader r(obj, where, problems);
  if (const Json* act = r.get("hidden_act", false); act && *act != "silu")
    r.problem("hidden_act", "is not \"silu\"; only LLaMA's SwiGLU MLP is supported");
  if (r.get("rope_scaling", false))
    r.problem("rope_scaling", "is set; rotary scaling is not supported (the reference has none)");
  bool bias = false;
  r.readBool("attention_bias", bias);
  if (bias) r.problem("attention_bias", "is true; q/k/v/o biases are not supported");
  bool mlpBias = false;
  r.readBool("mlp_bias", mlpBias);
  if (mlpBias) r.problem("mlp_bias", "is true; MLP biases are not supported");
}

}  // namespace

ModelConfig readModelConfig(const std::string& configPath, std::vector<std::string>& problems) {
  ModelConfig cfg;
  ModelFileError fileError;
  std::string text;
  const std::optional<Json> parsed = readJsonFile(configPath, "config.json", fileError, &text);
  if (!parsed && fileError.kind != ModelFileError::Kind::Malformed) {
    problems.push_back(fileError.kind == ModelFileError::Kind::Missing
                           ? "config.json is missing in the model folder (" + configPath + ")"
                           : fileError.message);
    return cfg;
  }
  cfg.configSha256 = sha256Hex(text.data(), text.size());
  if (!parsed) {
    problems.push_back(fileError.message);
    return cfg;
  }
  const Json& root = *parsed;
  if (!root.is_object()) {
    problems.push_back("config.json does not hold a JSON object");
    return cfg;
  }

  const Json* llama = jsonMember(root, "llama");
  const Json* vision = jsonMember(root, "clip_vision_cfg");
  auto hasArchitecture = [&](const std::string& name) {
    const Json* a = jsonMember(root, "architectures");
    if (!a || !a->is_array()) return false;
    for (const auto& x : *a)
      if (x.is_string() && x.get_ref<const std::string&>() == name) return true;
    return false;
  };
  const Json* modelType = jsonMember(root, "model_type");
  bool isLlamaType = modelType && *modelType == "llama";

  if (llama || vision || hasArchitecture("CXRLLAVAModel")) {
    cfg.kind = ModelKind::CxrLlava;
    cfg.llamaPrefix = "llama.";
    if (!llama || !llama->is_object()) {
      problems.push_back("config.json: the \"llama\" object (the language model's config) is missing");
    } else {
      readLlama(llama, "llama.", cfg.llama, problems);
      checkLlamaRest(llama, "llama.", problems);
    }
    if (!vision || !vision->is_object()) {
      problems.push_back("config.json: the \"clip_vision_cfg\" object is missing");
    } else {
      KeyReader v(vision, "clip_vision_cfg.", problems);
      const size_t visionProblemsBefore = problems.size();
      v.readInt("image_size", cfg.vision.imageSize, true, 1, kMaxImageSize);
      v.readInt("patch_size", cfg.vision.patchSize, true, 1, kMaxImageSize);
      v.readInt("width", cfg.vision.width, true, 1, kMaxHidden);
      v.readInt("layers", cfg.vision.layers, true, 1, kMaxLayers);
      v.readInt("head_width", cfg.vision.headWidth, false, 1, kMaxHeadDim);  // absent in the real file: 64
      v.readDouble("mlp_ratio", cfg.vision.mlpRatio, false, 0.01, 16.0);
      auto& vc = cfg.vision;
      if (problems.size() != visionProblemsBefore) {
        // the checks between keys need usable sizes
      } else if (vc.imageSize % vc.patchSize != 0)
        problems.push_back("config.json: clip_vision_cfg.image_size " + std::to_string(vc.imageSize) +
                           " is not a multiple of patch_size " + std::to_string(vc.patchSize));
      else if (vc.tokens() > kMaxImageTokens)
        problems.push_back("config.json: clip_vision_cfg.image_size " + std::to_string(vc.imageSize) +
                           " / patch_size " + std::to_string(vc.patchSize) + " gives " +
                           std::to_string(vc.tokens()) + " image tokens; at most " +
                           std::to_string(kMaxImageTokens) + " are supported (the reference has 1024)");
      if (problems.size() == visionProblemsBefore && vc.width % vc.headWidth != 0)
        problems.push_back("config.json: clip_vision_cfg.width " + std::to_string(vc.width) +
                           " is not a multiple of head_width " + std::to_string(vc.headWidth));
      if (problems.size() == visionProblemsBefore && vc.mlpWidth() < 1)
        problems.push_back("config.json: clip_vision_cfg.mlp_ratio " + std::to_string(vc.mlpRatio) +
                           " times width " + std::to_string(vc.width) + " gives an MLP of no units");
      for (const char* unsupported : {"attentional_pool", "no_ln_pre", "final_ln_after_pool"}) {
        const Json* u = jsonMember(*vision, unsupported);
        if (u && *u == true)
          v.problem(unsupported, "is true; the reference configuration (false) is the only one supported");
      }
      if (const Json* pool = jsonMember(*vision, "pool_type"); pool && pool->is_string() && *pool != "tok")
        v.problem("pool_type", "is not \"tok\"; only the class-token layout is supported");
    }
    KeyReader top(&root, "", problems);
    top.readInt("clip_embed_dim", cfg.vision.embedDim, false, 1, kMaxHidden);
    cfg.projectorIn = cfg.vision.width;
    top.readInt("mm_projector_dim", cfg.projectorIn, false, 1, kMaxHidden);
    if (cfg.projectorIn != cfg.vision.width)
      problems.push_back("config.json: mm_projector_dim " + std::to_string(cfg.projectorIn) +
                         " differs from clip_vision_cfg.width " + std::to_string(cfg.vision.width) +
                         " (the projector reads the vision tokens)");
    if (const Json* pre = jsonMember(root, "image_preprocess_cfg"); pre && pre->is_object()) {
      KeyReader p(pre, "image_preprocess_cfg.", problems);
      // The pixels are scaled to 0..1 before (x - mean) / std.
      p.readDouble("mean", cfg.imageMean, false, 0.0, 1.0, " (pixel values are scaled to 0..1)");
      p.readDouble("std", cfg.imageStd, false, 0.01, 1.0, " (pixel values are scaled to 0..1)");
    }
    cfg.maxContext = 2048;  // spec 6.1: getattr(config, 'max_position_embeddings', 2048)
    top.readInt("max_position_embeddings", cfg.maxContext, false, 1, kMaxPositions);
  } else if (isLlamaType || hasArchitecture("LlamaForCausalLM")) {
    cfg.kind = ModelKind::TextLlama;
    cfg.llamaPrefix = "model.";
    readLlama(&root, "", cfg.llama, problems);
    checkLlamaRest(&root, "", problems);
    cfg.maxContext = cfg.llama.maxPositions;
  } else {
    problems.push_back(
        "config.json describes neither a CXR-LLaVA model (no \"llama\" / \"clip_vision_cfg\") nor a "
        "LlamaForCausalLM (architectures / model_type); is this the right folder?");
  }
  return cfg;
}

std::string shapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace cxr::detail
