// Benchmark and tooling functions of the engine: kernel figures, the memory-bandwidth bound of a
// decode step, and random checkpoints in the real layout. Used by `cxr-llava bench`,
// `cxr-llava make-random-checkpoint`, bench_engine and tests; a client that only runs the model
// needs engine.h alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cxr/model/engine.h"

namespace cxr {

// Figures about the compute backend for benchmarks (bench_engine, `cxr-llava bench`): whether
// oneDNN is built and enabled, fp32 vs bf16 linear speed on the decode shape (1x4096 @ 4096x4096)
// and the prefill shape (128x4096 @ 4096x4096), and the read bandwidth of a fresh buffer (streaming
// sum over 2 GiB, best of 5; the bound of an actual decode step is readDecoderWeights below, taken
// at the same moment). Takes a few seconds and 2 GiB; sets the intra-op thread count.
struct KernelReport {
  bool mkldnnBuilt = false, mkldnnEnabled = false;
  int threads = 0;
  std::string cpuLevel;  // ModelInfo::cpuLevel; at "avx2" the bf16 figures are the engine's fp32-compute products
  // The GEMM rate in the level's compute dtype (bf16 through oneDNN at avx512, f32 through OpenBLAS at
  // avx2): 1024x4096 @ 4096x4096, best of 3.
  std::string gemmDtype;
  double gemmGflops = 0;
  double f32GemvMs = 0, bf16GemvMs = 0;          // one 1x4096 @ 4096x4096 linear
  double f32GemmGflops = 0, bf16GemmGflops = 0;  // 128x4096 @ 4096x4096
  double readBandwidthGBs = 0;                   // 1e9 bytes per second
  // Decode-shaped product over a 256 MB bf16 matrix (lm_head, 32000x4096, beyond any cache), in
  // weight bytes per second: oneDNN's at::linear (0 at level avx2, which keeps bf16 away from it) vs
  // the engine's gemv of the level (0 if absent).
  double onednnGemvGBs = 0, engineGemvGBs = 0;
};
KernelReport measureKernels(int threads);

// Floating-point operations of a prefill of `positions` new positions after `past` cached ones: the
// LLaMA layers' projections, attention scores and values over the causal keys, and lm_head for the
// last position (what bench's prefill_gflops divides by the prefill's time).
double prefillFlops(const Model& model, int past, int positions);

// The memory-bandwidth bound of one decode step, measured on the loaded model: every weight byte
// a decode step reads (each decoder layer's norms and seven projections, the final norm and
// lm_head; the one embedding row is negligible) is read once, on the model's device and threads,
// with nothing but a running XOR per 64 bytes. `seconds` is the time the memory allows a decode
// step. Benchmarks take it right after each decode step and compare the two: on a shared machine
// the read bandwidth changes by up to 2x from one minute to the next, so a bandwidth figure taken
// at another moment says little about a given decode step.
struct WeightReadProbe {
  int64_t bytes = 0;
  double seconds = 0;
  double gigabytesPerSecond() const { return seconds > 0 ? double(bytes) / seconds / 1e9 : 0; }
};
WeightReadProbe readDecoderWeights(Model& model);

// Decode speed against that bound, step by step: pass callback() as the TokenCallback of a
// generation; after every decode step (not the first token, which the prefill produces) it times the
// step, then reads the decoder weights once (readDecoderWeights) and keeps the pair. The step time
// includes sampling and streaming, as a user sees it. The reads slow the generation down, so the
// timings of a measured generation are not its normal ones.
class DecodeBoundMeter {
 public:
  explicit DecodeBoundMeter(Model& model);
  TokenCallback callback();
  struct Pair {
    double stepSeconds = 0, readSeconds = 0;
    int token = 0;  // the index of the token the step produced (TokenEvent::index)
    double fraction() const { return stepSeconds > 0 ? readSeconds / stepSeconds : 0; }
  };
  const std::vector<Pair>& pairs() const { return pairs_; }
  int64_t bytesPerStep() const { return bytes_; }
  // Medians over the pairs (0 when none): the decode step, the weight read, and their ratio.
  double medianStepSeconds() const;
  double medianReadSeconds() const;
  double medianFraction() const;
  // A step also reads the KV cache of every position before it (at the report's ~1,120 positions
  // 0.58 GB at 7B in bf16: 8 % more than the int8 weights' bytes, 14 % more than int4's), which the
  // bound above leaves out. This ratio adds those bytes, read at the same rate as the weights were
  // in the step's pair: the step against everything it must read. promptPositions: the prompt's
  // positions, a reused prefix included.
  int64_t cacheBytesPerPosition() const { return cacheBytesPerPosition_; }
  double medianFractionWithCache(int promptPositions) const;

 private:
  Model& model_;
  std::vector<Pair> pairs_;
  int64_t bytes_ = 0, cacheBytesPerPosition_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

// Writes a checkpoint folder in the exact CXR-LLaVA v2 layout (config.json, tokenizer files copied
// from `tokenizerSource` folder, sharded safetensors + index) filled with random weights, so that
// speed and memory can be measured without the real weights. preset: "7b" (the real shapes) or
// "tiny"; dtype: "bf16", "f16" or "f32".
void writeRandomCheckpoint(const std::string& outFolder, const std::string& preset,
                           const std::string& dtype, const std::string& tokenizerSource,
                           uint64_t seed = 0, const LoadProgress& progress = {});

// Teacher-forced perplexity of a text, as llama.cpp's llama-perplexity measures it: the text is
// tokenized once (BOS first), cut into chunks of chunkTokens, each chunk evaluated from an empty
// context with BOS as its first token, and only the second half of each chunk scored (tokens
// chunkTokens/2 + 1 .. chunkTokens - 1 predicted from everything before them in the chunk), so that
// every scored token has at least half a chunk of context. The first half runs as one prefill, the
// rest as decode steps: both paths of the weights in use are measured. chunkTokens 0: min(512,
// the model's context). progress(chunk, chunks) false stops (throws Cancelled). Throws ModelError
// when the text is shorter than one chunk.
struct PerplexityResult {
  double perplexity = 0;  // exp(mean negative log-likelihood of the scored tokens)
  int scoredTokens = 0;
  int chunks = 0, chunkTokens = 0;
  int textTokens = 0;      // tokens of the whole text (BOS included)
  double seconds = 0;
  std::string cpuLevel;    // the level the kernels ran at: "avx512" or "avx2"
};
PerplexityResult measurePerplexity(Model& model, const std::string& text, int chunkTokens = 0,
                                   const std::function<bool(int, int)>& progress = {});

// Makes the int8 or int4 weights cache of a model folder ahead of time (what the first load with
// LoadOptions::weights "int8"/"int4" does), without loading the model. Returns the cache file's
// path; `madeNow` says whether it had to be made (false: it was there and intact). `threads` as
// LoadOptions::threads (0: physical cores): the 4-bit fit is compute-bound.
std::string quantizeWeights(const std::string& folder, const std::string& weights, const LoadProgress& progress = {},
                            bool* madeNow = nullptr, int threads = 0);

}  // namespace cxr
