// Private to model/src/core: the torch-side state behind the public pimpls. Only the two
// translation units that do tensor maths include this (ATen headers are slow to compile).
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/model_config.h"
#include "core/quant_cache.h"
#include "cxr/model/engine.h"
#include "tokenizer/tokenizer.h"

namespace cxr::detail {

// Thrown inside a forward pass when a progress callback returned false; caught at the API edge.
struct StopRequested {};

struct VisionBlock {
  at::Tensor ln1W, ln1B;        // [W]
  at::Tensor inProjW, inProjB;  // [3W, W], [3W]  rows Wq | Wk | Wv
  at::Tensor outProjW, outProjB;  // [W, W], [W]
  at::Tensor ln2W, ln2B;        // [W]
  at::Tensor fcW, fcB;          // [M, W], [M]
  at::Tensor projW, projB;      // [W, M], [W]
};

struct LlamaLayer {
  at::Tensor inputNorm;         // [H]
  at::Tensor wq;                // [nh*hd, H]  (HF rotary layout)
  at::Tensor wk, wv;            // [kvh*hd, H]
  at::Tensor wo;                // [H, nh*hd]
  at::Tensor postNorm;          // [H]
  at::Tensor wGate, wUp;        // [I, H]
  at::Tensor wDown;             // [H, I]
};

struct Weights {
  // vision tower (CxrLlava only)
  at::Tensor patchW;            // [W, P*P]   conv1 as a linear map over flattened patches
  at::Tensor classEmb;          // [W]
  at::Tensor posEmb;            // [1 + grid*grid, W]
  at::Tensor lnPreW, lnPreB, lnPostW, lnPostB;  // [W]
  std::vector<VisionBlock> vision;
  at::Tensor projectorW;        // [H, W]
  at::Tensor projectorB;        // [H]
  // language model
  at::Tensor embed;             // [V, H]
  std::vector<LlamaLayer> layers;
  at::Tensor finalNorm;         // [H]
  at::Tensor lmHead;            // [V, H]  (= embed when tied and absent)
};

// Per-conversation key/value cache: per layer [kvh, capacity, hd], positions [0, length) valid.
struct KvCache {
  std::vector<at::Tensor> k, v;
  int capacity = 0;
};

class PrefixCache;  // prefix_cache.h

}  // namespace cxr::detail

namespace cxr {

struct Model::Impl {
  detail::ModelConfig cfg;
  ModelInfo info;
  std::unique_ptr<detail::Checkpoint> checkpoint;  // owns the mappings the weights point into
  // The int8/int4 decoder weights (quant_cache.h) when LoadOptions::weights asked for them: owns the
  // cache file's mapping that those weight tensors view (declared before `w`, so it outlives them).
  std::unique_ptr<detail::QuantizedWeights> quant;
  std::unique_ptr<detail::Tokenizer> tokenizer;
  at::Device device{at::kCPU};
  at::ScalarType dtype = at::kBFloat16;
  detail::Weights w;
  at::Tensor ropeCos, ropeSin;  // [cfg.contextPositions(), hd] in the compute dtype (rounded, as HF does)
  double loadSeconds = 0;
  // The KV cache of the shared image prefix of the last few images (prefix_cache.h).
  std::shared_ptr<detail::PrefixCache> prefixCache;

  at::TensorOptions options() const { return at::TensorOptions().device(device).dtype(dtype); }
  int kvLimit() const { return int(ropeCos.size(0)); }
};

struct EncodedImage::Impl {
  const Model::Impl* owner = nullptr;
  PreprocessInfo preprocess;
  std::vector<float> pixelValues;  // [1,1,S,S] normalised, float32
  at::Tensor embeddings;           // [N, hidden] compute dtype, on the model's device
  double preprocessSeconds = 0, visionSeconds = 0;
};

}  // namespace cxr

namespace cxr::detail {

// The engine's way to the pimpls behind the public Model and EncodedImage (their impl_ is private,
// so that no client builds on the internals).
struct Access {
  static Model::Impl& of(Model& model) { return *model.impl_; }
  static const Model::Impl& of(const Model& model) { return *model.impl_; }
  static const EncodedImage::Impl& of(const EncodedImage& image) { return *image.impl_; }
};

// engine.cpp: physical cores (the default thread count: matmuls do not gain from SMT siblings).
int physicalCores();
// The thread count for `asked` (0: physical cores), set for libtorch's OpenMP regions and the
// kernels' pool; throws ModelError starting with `action` when the machine has fewer CPUs.
int resolveThreads(int asked, const std::string& action);

// transformer.cpp: the maths.
// pixels: [S, S] float32 (normalised) -> image embeddings [N, hidden]. progress(done, total).
at::Tensor visionForward(const Model::Impl& m, const at::Tensor& pixels,
                         const std::function<bool(int, int)>& progress);
// x: [T, hidden] input embeddings at absolute positions pos0..pos0+T-1. Writes K/V for those
// positions into `cache` (which must have capacity >= pos0+T) and returns the logits of the LAST
// position, [vocab], in the compute dtype. Throws StopRequested when progress returns false.
at::Tensor llamaForward(const Model::Impl& m, KvCache& cache, const at::Tensor& x, int pos0,
                        const std::function<bool(int, int)>& progress);
// Creates every weight tensor from the checkpoint's mapped views (zero-copy when the stored dtype is
// the compute dtype on CPU) and builds the rotary tables; pages the data in tensor by tensor.
// progress(fraction, stage) false -> LoadCancelled.
void bindWeights(Model::Impl& m, const LoadProgress& progress);
void ensureCapacity(const Model::Impl& m, KvCache& cache, int positions);
at::Tensor embedTokens(const Model::Impl& m, const std::vector<int32_t>& ids);

}  // namespace cxr::detail
