// measurePerplexity and quantizeWeights (tools.h): quality and preparation of the int8 / int4
// decoder weights.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/cpu_level.h"
#include "core/engine_internal.h"
#include "core/quant_cache.h"
#include "core/weights_choice.h"
#include "cxr/model/tools.h"

namespace cxr {

namespace {

// -log softmax(logits)[target], in double.
double negativeLogLikelihood(const at::Tensor& logits, int32_t target) {
  at::Tensor l = logits.to(at::kDouble).reshape({-1});
  const double* v = l.data_ptr<double>();
  const int64_t n = l.numel();
  double top = v[0];
  for (int64_t i = 1; i < n; ++i) top = std::max(top, v[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(v[i] - top);
  return -(v[target] - top - std::log(sum));
}

}  // namespace

PerplexityResult measurePerplexity(Model& model, const std::string& text, int chunkTokens,
                                   const std::function<bool(int, int)>& progress) {
  const Model::Impl& m = detail::Access::of(model);
  const auto t0 = std::chrono::steady_clock::now();
  const int limit = m.kvLimit();
  const int n = chunkTokens > 0 ? chunkTokens : std::min(512, limit);
  if (n < 4 || n > limit)
    throw ModelError("perplexity: a chunk of " + std::to_string(n) + " tokens does not fit: use 4 to " +
                     std::to_string(limit) + " (the model's context)");
  const std::vector<int32_t> ids = model.tokenize(text, /*addBos=*/true);
  PerplexityResult r;
  r.chunkTokens = n;
  r.cpuLevel = detail::toString(detail::cpuLevel());
  r.textTokens = int(ids.size());
  r.chunks = int(ids.size()) / n;
  if (r.chunks == 0)
    throw ModelError("perplexity: the text is " + std::to_string(ids.size()) + " tokens, shorter than one chunk of " +
                     std::to_string(n) + "; give a longer text or a smaller chunk");
  const int bos = ids[0];
  const int first = n / 2;
  double nll = 0;
  c10::InferenceMode guard;
  try {
    for (int c = 0; c < r.chunks; ++c) {
      if (progress && !progress(c, r.chunks)) throw Cancelled();
      std::vector<int32_t> chunk(ids.begin() + std::ptrdiff_t(c) * n, ids.begin() + std::ptrdiff_t(c + 1) * n);
      chunk[0] = bos;
      detail::KvCache cache;
      detail::ensureCapacity(m, cache, n);
      // Positions 0..first in one prefill: its last logits predict token first + 1.
      std::vector<int32_t> head(chunk.begin(), chunk.begin() + first + 1);
      at::Tensor logits = detail::llamaForward(m, cache, detail::embedTokens(m, head), 0, {});
      for (int j = first; j < n - 1; ++j) {
        nll += negativeLogLikelihood(logits, chunk[size_t(j + 1)]);
        ++r.scoredTokens;
        if (j + 1 < n - 1)
          logits = detail::llamaForward(m, cache, detail::embedTokens(m, {chunk[size_t(j + 1)]}), j + 1, {});
      }
    }
  } catch (const c10::Error& e) {
    throw ModelError(std::string("perplexity failed inside libtorch: ") + e.what_without_backtrace());
  }
  if (progress) progress(r.chunks, r.chunks);
  r.perplexity = std::exp(nll / std::max(1, r.scoredTokens));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string quantizeWeights(const std::string& folder, const std::string& weights, const LoadProgress& progress,
                            bool* madeNow, int threads) {
  if (weights != "int8" && weights != "int4")
    throw ModelError("quantize: weights '" + weights + "' cannot be made ahead of time: use int8 or int4");
  // Set as a load sets them: libtorch's own default was 1 thread on a 2-vCPU VM, and the 4-bit fit
  // is compute-bound.
  detail::resolveThreads(threads, "Cannot quantize");
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    throw ModelError("Cannot quantize: " + folder + " is not a folder (give the model folder that holds config.json "
                     "and the *.safetensors files)");
  std::vector<std::string> problems;
  const detail::ModelConfig config =
      detail::readModelConfig((std::filesystem::path(folder) / "config.json").string(), problems);
  if (!problems.empty()) throw ModelError(detail::formatProblems(folder, problems));
  auto checkpoint = detail::Checkpoint::open(folder, config, progress);
  const detail::QuantFormat format = weights == "int8" ? detail::QuantFormat::Int8 : detail::QuantFormat::Int4;
  return detail::QuantizedWeights::make(folder, config, *checkpoint, format, progress, madeNow);
}

}  // namespace cxr
