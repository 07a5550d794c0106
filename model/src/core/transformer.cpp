// The maths of CXR-LLaVA v2: open_clip's vision tower, the projector and LLaMA-2 (spec sections
// 3, 6.2 and 7). Device- and dtype-generic: every tensor follows the model's TensorOptions.
// Shape comments use: S image side, P patch, g grid (S/P), N = g*g patch tokens, W vision width,
// M vision MLP width, T new positions, L = past + T positions, H hidden, nh/kvh heads, hd head dim.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <type_traits>

#include "core/attention_decode.h"
#include "core/attention_prefill.h"
#include "core/block_reuse.h"
#include "core/engine_internal.h"
#include "core/fused_elementwise.h"
#include "core/gemv_bf16.h"
#include "core/products.h"
#include "core/quant_linear.h"
#include "core/rms_norm.h"
#include "core/thread_pool.h"
#include "core/weight_table.h"

namespace cxr::detail {

namespace {

// ---- weights ------------------------------------------------------------------------------

at::ScalarType toScalarType(StoredDType t) {
  switch (t) {
    case StoredDType::BF16: return at::kBFloat16;
    case StoredDType::F16: return at::kHalf;
    case StoredDType::F32: return at::kFloat;
  }
  return at::kFloat;
}

// Reads one byte per page so that the OS pages the tensor in now (during load, with progress)
// rather than during the first question.
void pageIn(const TensorView& v) {
  volatile uint8_t sink = 0;
  for (size_t off = 0; off < v.bytes; off += 4096) sink = sink + v.data[off];
  if (v.bytes) sink = sink + v.data[v.bytes - 1];
  (void)sink;
}

class WeightBinder {
 public:
  WeightBinder(Model::Impl& m, const LoadProgress& progress) : m_(m), progress_(progress) {
    total_ = double(std::max<int64_t>(1, m.checkpoint->weightBytes()));
  }

  // A weight as a tensor of the compute dtype on the compute device. When nothing needs
  // converting it is a view of the mapping itself (no copy: the mapping outlives the model's
  // tensors because Model::Impl owns both and the weights are declared after the checkpoint).
  at::Tensor get(const std::string& name) {
    const TensorView& v = m_.checkpoint->tensor(name);
    if (progress_ && !progress_(0.1 + 0.9 * done_ / total_, "loading " + name)) throw LoadCancelled();
    pageIn(v);
    done_ += double(v.bytes);
    const at::ScalarType stored = toScalarType(v.dtype);
    std::vector<int64_t> shape(v.shape.begin(), v.shape.end());
    const bool aligned = reinterpret_cast<uintptr_t>(v.data) % size_t(dtypeSize(v.dtype)) == 0;
    if (aligned) {
      at::Tensor t = at::from_blob(const_cast<uint8_t*>(v.data), shape,
                                   at::TensorOptions().dtype(stored).device(at::kCPU));
      if (stored == m_.dtype && m_.device.is_cpu()) return t;  // zero-copy
      return t.to(m_.device, m_.dtype);
    }
    // A misaligned tensor (hand-made file): copy it once to aligned memory.
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(stored));
    std::memcpy(t.data_ptr(), v.data, v.bytes);
    return t.to(m_.device, m_.dtype);
  }

 private:
  Model::Impl& m_;
  const LoadProgress& progress_;
  double done_ = 0, total_ = 1;
};

// ---- building blocks ------------------------------------------------------------------------

// True for a few bf16 positions (one at the AVX-512 level: every decode step) on the CPU against a
// contiguous bf16 weight, which the decode gemv computes (its AVX-512 BF16 or AVX2 variant,
// gemv_bf16.h; gemvBf16FewPositions says how many).
bool gemvTakesPositions(int64_t positions) {
  return positions >= 1 && positions <= gemvBf16FewPositions() && gemvBf16Available();
}
bool fewPositionsGemvApplies(const at::Tensor& x, const at::Tensor& w) {
  return x.dim() == 2 && gemvTakesPositions(x.size(0)) && x.scalar_type() == at::kBFloat16 &&
         w.scalar_type() == at::kBFloat16 && x.device().is_cpu() && w.device().is_cpu() && w.is_contiguous();
}

// y = x W^T without bias. A few bf16 positions on the CPU (every decode step) go through the decode
// gemv (fp32 accumulation, bf16 result, like at::linear); everything else through linearProduct()
// (products.h: oneDNN for bf16 at level avx512, fp32 compute at avx2).
at::Tensor project(const at::Tensor& x, const at::Tensor& w) {
  if (isQuantized(w)) return quantLinear(x, w);  // int8 / int4 decoder weights (quant_linear.h)
  if (fewPositionsGemvApplies(x, w)) {
    at::Tensor xc = x.contiguous();
    at::Tensor y = at::empty({x.size(0), w.size(0)}, x.options());  // [T, N]
    const GemvTarget target{reinterpret_cast<const uint16_t*>(w.data_ptr()), reinterpret_cast<uint16_t*>(y.data_ptr()),
                            w.size(0)};
    gemvBf16Positions(&target, 1, reinterpret_cast<const uint16_t*>(xc.data_ptr()), x.size(0), w.size(1));
    return y;
  }
  return linearProduct(x, w);
}

// GELU (erf form). At level avx2 in fp32, rounded once (what ATen's own bf16 kernel computes): libtorch
// hands a bf16 GELU to oneDNN wherever it deems the CPU bf16-capable, which breaks the avx2 emulation
// under ONEDNN_MAX_CPU_ISA=AVX2 (cpu_level.h).
at::Tensor geluErf(const at::Tensor& x) {
  if (x.scalar_type() == at::kBFloat16 && bf16ProductsInFp32()) return at::gelu(x.to(at::kFloat)).to(x.scalar_type());
  return at::gelu(x);
}

// project() of one x with several weights of the same input width (q, k, v; gate, up). A decode step
// (or a few positions) does them in one parallel call of the gemv (gemvBf16Several says why;
// quantLinearSeveral for quantized weights of one format); otherwise one project() each.
template <size_t N>
std::array<at::Tensor, N> projectSeveral(const at::Tensor& x, const std::array<const at::Tensor*, N>& ws) {
  std::array<at::Tensor, N> ys;
  const bool fewQuantPositions = x.dim() == 2 && x.size(0) <= quantFewPositions() && x.device().is_cpu();
  const bool sameQuantFormat = std::all_of(ws.begin(), ws.end(), [&](const at::Tensor* w) {
    return isQuantized(*w) && quantFormatOf(*w) == quantFormatOf(*ws[0]);
  });
  if (fewQuantPositions && sameQuantFormat) {
    const std::vector<at::Tensor> several = quantLinearSeveral(x, std::vector<const at::Tensor*>(ws.begin(), ws.end()));
    std::copy(several.begin(), several.end(), ys.begin());
    return ys;
  }
  const bool fused =
      std::all_of(ws.begin(), ws.end(), [&](const at::Tensor* w) { return fewPositionsGemvApplies(x, *w); });
  if (!fused) {
    for (size_t i = 0; i < N; ++i) ys[i] = project(x, *ws[i]);
    return ys;
  }
  at::Tensor xc = x.contiguous();
  std::array<GemvTarget, N> targets;
  for (size_t i = 0; i < N; ++i) {
    ys[i] = at::empty({x.size(0), ws[i]->size(0)}, x.options());  // [T, N_i]
    targets[i] = {reinterpret_cast<const uint16_t*>(ws[i]->data_ptr()), reinterpret_cast<uint16_t*>(ys[i].data_ptr()),
                  ws[i]->size(0)};
  }
  gemvBf16Positions(targets.data(), int(N), reinterpret_cast<const uint16_t*>(xc.data_ptr()), x.size(0), x.size(1));
  return ys;
}

// The attention of one new position against the cache (decode step, CPU, bf16): q [nh, 1, hd];
// kCache, vCache [kvh, capacity, hd] holding `keys` positions. Same rounding as attention().
at::Tensor attentionOnePosition(const at::Tensor& q, const at::Tensor& kCache, const at::Tensor& vCache, int64_t keys,
                                double scale) {
  const int64_t nh = q.size(0), hd = q.size(2), kvh = kCache.size(0), capacity = kCache.size(1);
  auto bits = [](const at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr()); };
  at::Tensor qc = q.contiguous();
  at::Tensor scores = at::empty({nh, keys}, q.options().dtype(at::kFloat));  // [nh, keys]
  at::Tensor probs = at::empty({nh, keys}, q.options());                      // [nh, keys] bf16
  at::Tensor out = at::empty({nh, 1, hd}, q.options());
  // One parallel call per layer: each thread takes whole heads through scores, softmax and values.
  // The softmax goes one row at a time in one pass (softmaxRowsToBf16: libtorch's per-row arithmetic
  // and rounding to bf16, without the ~1024 dispatches of libtorch's ops a step took).
  parallelFor(nh, 1, [&](int64_t h0, int64_t h1) {
    c10::InferenceMode guard;  // thread-local: the pool's threads need their own
    attentionScoresForHeads(bits(qc), bits(kCache), h0, h1, nh, kvh, capacity, keys, hd, float(scale),
                            scores.data_ptr<float>());
    softmaxRowsToBf16(scores.data_ptr<float>() + h0 * keys, bits(probs) + h0 * keys, h1 - h0, keys);
    attentionValuesForHeads(bits(probs), bits(vCache), h0, h1, nh, kvh, capacity, keys, hd, bits(out));
  });
  return out;
}

}  // namespace

// ---- loading --------------------------------------------------------------------------------

void bindWeights(Model::Impl& m, const LoadProgress& progress) {
  c10::InferenceMode guard;
  WeightBinder b(m, progress);
  const ModelConfig& c = m.cfg;
  Weights& w = m.w;
  if (c.kind == ModelKind::CxrLlava) w.vision.resize(size_t(c.vision.layers));
  w.layers.resize(size_t(c.llama.layers));
  // Every weight of the table into its slot (the checkpoint was validated against the same table).
  forEachWeight(c, [&](const std::string& name, const std::vector<int64_t>&, WeightInit, bool optional, auto slot) {
    if constexpr (!std::is_same_v<decltype(slot), NoSlot>) {
      if (const QuantizedWeights::Matrix* q = m.quant ? m.quant->find(name) : nullptr) {
        const bool int8 = m.quant->format() == QuantFormat::Int8;  // packed rows, see quant_linear.h
        slot(w) = at::from_blob(const_cast<uint8_t*>(q->data), {q->rows, quantRowBytes(m.quant->format(), q->cols)},
                                at::TensorOptions().dtype(int8 ? at::kChar : at::kByte));
        return;
      }
      if (optional && !m.checkpoint->find(name)) return;
      slot(w) = b.get(name);
    }
  });
  if (c.kind == ModelKind::CxrLlava)  // conv1 [W, 1, P, P] as a linear map over flattened patches
    w.patchW = w.patchW.reshape({c.vision.width, c.vision.patchSize * c.vision.patchSize});
  // (bf16 products in fp32 compute, level avx2: the vision tower's weights stay bf16 like the
  // decoder's and are widened per image into a reused buffer, products.cpp. An fp32 copy held
  // 1.2 GB at 7B for the whole session to save 0.5-1 s of the 5-7 s an image takes at that level.)
  // A tied model may omit lm_head (then the embedding matrix is the head; quantized weights carry
  // their own lm_head made from it).
  if (!w.lmHead.defined()) w.lmHead = w.embed;

  // Rotary tables as LlamaRotaryEmbedding builds them: fp32 on CPU, then rounded to the compute
  // dtype (cos_cached[:seq].to(x.dtype)). As long as a conversation can get (contextPositions),
  // not max_position_embeddings: their length also bounds the KV cache (kvLimit).
  const int64_t hd = c.llama.headDim;
  at::Tensor invFreq = 1.0 / at::pow(c.llama.ropeTheta, at::arange(0, hd, 2, at::kLong).to(at::kFloat) / double(hd));
  at::Tensor t = at::arange(int64_t(c.contextPositions()), at::kLong).to(at::kFloat);
  at::Tensor freqs = at::outer(t, invFreq);   // [maxPos, hd/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);  // [maxPos, hd]
  m.ropeCos = emb.cos().to(m.device, m.dtype);
  m.ropeSin = emb.sin().to(m.device, m.dtype);
}

// ---- vision tower (spec 3) ----------------------------------------------------------------

at::Tensor visionForward(const Model::Impl& m, const at::Tensor& pixels,
                         const std::function<bool(int, int)>& progress) {
  c10::InferenceMode guard;
  ReuseLargeBlocks reuse;  // its blocks of 5-60 MB would otherwise be faulted in afresh each time
  const auto& vc = m.cfg.vision;
  const auto& w = m.w;
  const int64_t S = vc.imageSize, P = vc.patchSize, g = vc.grid(), W = vc.width;
  const int64_t nh = vc.heads(), hw = vc.headWidth;
  const double eps = vc.lnEps;

  // conv1 (no bias, stride P) as a matrix product over flattened patches; token t = (t / g, t % g).
  at::Tensor img = pixels.to(m.device, m.dtype).reshape({S, S});                        // [S, S]
  at::Tensor patches = img.reshape({g, P, g, P}).permute({0, 2, 1, 3}).reshape({g * g, P * P});  // [N, P*P]
  at::Tensor tokens = linearProduct(patches, w.patchW);                                    // [N, W]
  at::Tensor x = at::cat({w.classEmb.reshape({1, W}), tokens}, 0) + w.posEmb;           // [N+1, W]
  x = at::layer_norm(x, {W}, w.lnPreW, w.lnPreB, eps);

  const int64_t L = x.size(0);
  const double scale = 1.0 / std::sqrt(double(hw));
  for (size_t i = 0; i < w.vision.size(); ++i) {
    if (progress && !progress(int(i), int(w.vision.size()))) throw StopRequested{};
    const VisionBlock& b = w.vision[i];
    // x = x + out_proj(MHA(ln_1(x)))   (nn.MultiheadAttention: q, k, v from one packed in_proj)
    at::Tensor n = at::layer_norm(x, {W}, b.ln1W, b.ln1B, eps);            // [L, W]
    at::Tensor qkv = linearProduct(n, b.inProjW, b.inProjB);                   // [L, 3W]
    auto heads = [&](int64_t part) {                                        // -> [nh, L, hw]
      return qkv.narrow(1, part * W, W).reshape({L, nh, hw}).transpose(0, 1).contiguous();
    };
    at::Tensor a = attention(heads(0), heads(1), heads(2), scale, at::Tensor());  // [nh, L, hw]
    a = a.transpose(0, 1).reshape({L, W});
    x = x + linearProduct(a, b.outProjW, b.outProjB);
    // x = x + c_proj(GELU_erf(c_fc(ln_2(x))))
    at::Tensor n2 = at::layer_norm(x, {W}, b.ln2W, b.ln2B, eps);
    at::Tensor h = geluErf(linearProduct(n2, b.fcW, b.fcB));               // [L, M]
    x = x + linearProduct(h, b.projW, b.projB);
  }
  if (progress && !progress(int(w.vision.size()), int(w.vision.size()))) throw StopRequested{};
  // ln_post on all tokens, then drop the class token; `proj` is not used on this path.
  x = at::layer_norm(x, {W}, w.lnPostW, w.lnPostB, eps).narrow(0, 1, L - 1);  // [N, W]
  return linearProduct(x, w.projectorW, w.projectorB);                            // [N, H]
}

// ---- LLaMA (spec 6.2, 7) ----------------------------------------------------------------------

void ensureCapacity(const Model::Impl& m, KvCache& cache, int positions) {
  if (positions <= cache.capacity) return;
  const auto& lc = m.cfg.llama;
  // Grow in steps of 256 positions (0.5 MiB each for the 7B model in bf16), keeping the contents.
  int cap = std::min(m.kvLimit(), ((positions + 255) / 256) * 256);
  cap = std::max(cap, positions);
  if (cache.k.empty()) {
    cache.k.resize(size_t(lc.layers));
    cache.v.resize(size_t(lc.layers));
  }
  for (int l = 0; l < lc.layers; ++l) {
    for (auto* kv : {&cache.k[size_t(l)], &cache.v[size_t(l)]}) {
      at::Tensor grown = at::empty({lc.kvHeads, cap, lc.headDim}, m.options());  // [kvh, cap, hd]
      if (kv->defined() && cache.capacity > 0) grown.narrow(1, 0, cache.capacity).copy_(*kv);
      *kv = grown;
    }
  }
  cache.capacity = cap;
}

at::Tensor embedTokens(const Model::Impl& m, const std::vector<int32_t>& ids) {
  std::vector<int64_t> idx(ids.begin(), ids.end());
  at::Tensor t = at::tensor(idx, at::TensorOptions().dtype(at::kLong)).to(m.w.embed.device());
  return at::embedding(m.w.embed, t).to(m.device, m.dtype);  // [T, H]
}

// True when a forward of T positions runs its projections on the engine's kernel pool (the decode's
// kernels, for one position or a few: gemv_bf16.h, quant_linear.h) rather than libtorch's GEMMs.
bool projectionsOnKernelPool(const Model::Impl& m, int64_t T) {
  if (m.w.layers.empty() || !m.device.is_cpu()) return false;
  const at::Tensor& w = m.w.layers.front().wq;
  if (isQuantized(w)) return T <= quantFewPositions();
  return m.dtype == at::kBFloat16 && w.scalar_type() == at::kBFloat16 && gemvTakesPositions(T);
}

// While it lives, libtorch's ops opened on this thread run on it alone (OpenMP's thread count is a
// per-thread setting: other threads keep theirs). For a forward of a few positions whose products run
// on the kernel pool: its norms, rotary and attention on [T, 4096]-sized tensors are parallel
// regions of microseconds, after each of which libgomp's idle thread spins (its default spin count)
// on the core the pool's worker needs. Measured (7B, int8 at avx2, 2 threads): the spinning was 16 %
// of a 17-position prefill's samples; without it the prefill took 2.06-2.07 s against 2.28-2.35 s.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : before_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOpenMpThread() { omp_set_num_threads(before_); }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int before_;
};

at::Tensor llamaForward(const Model::Impl& m, KvCache& cache, const at::Tensor& input, int pos0,
                        const std::function<bool(int, int)>& progress) {
  c10::InferenceMode guard;
  const auto& lc = m.cfg.llama;
  const int64_t T = input.size(0), Lk = pos0 + T;
  const int64_t nh = lc.heads, kvh = lc.kvHeads, hd = lc.headDim, G = nh / kvh;
  const double scale = 1.0 / std::sqrt(double(hd));
  if (Lk > cache.capacity) throw ModelError("internal: KV cache too small");
  // A prefill's activations are blocks of megabytes, freed and made again at every op (block_reuse.h);
  // a decode step's are kilobytes.
  std::optional<ReuseLargeBlocks> reuse;
  if (T > 1) reuse.emplace();
  // A few positions whose projections run on the kernel pool: libtorch's ops in between on this
  // thread alone (OneOpenMpThread says why).
  std::optional<OneOpenMpThread> serialOps;
  if (T > 1 && projectionsOnKernelPool(m, T)) serialOps.emplace();

  at::Tensor cos = m.ropeCos.narrow(0, pos0, T);  // [T, hd]
  at::Tensor sin = m.ropeSin.narrow(0, pos0, T);
  // Causal mask over absolute positions: query i (at pos0+i) sees keys 0..pos0+i. Rows repeat
  // per grouped query head (see attention()).
  at::Tensor mask;
  if (T > 1) {
    mask = at::full({T, Lk}, -std::numeric_limits<float>::infinity(),
                    at::TensorOptions().dtype(at::kFloat).device(m.device))
               .triu(pos0 + 1);  // [T, Lk]
    if (G > 1) mask = mask.repeat({G, 1});  // [G*T, Lk]
  }

  // A decode step on the CPU in bf16 attends with the hand-written kernels (attention_decode.h).
  const bool onePositionKernels = T == 1 && m.device.is_cpu() && m.dtype == at::kBFloat16 &&
                                  attentionDecodeAvailable(hd) && cache.k[0].is_contiguous();

  at::Tensor x = input;  // [T, H]
  for (int l = 0; l < lc.layers; ++l) {
    if (progress && !progress(l, lc.layers)) throw StopRequested{};
    const LlamaLayer& w = m.w.layers[size_t(l)];
    // ---- attention
    at::Tensor n1 = rmsNorm(x, w.inputNorm, lc.rmsEps);                          // [T, H]
    auto [qp, kp, vp] = projectSeveral<3>(n1, {&w.wq, &w.wk, &w.wv});
    // RoPE (rotate_half form, positions pos0..pos0+T-1): q into [nh, T, hd], k into the cache's rows
    at::Tensor q = at::empty({nh, T, hd}, qp.options());
    rotaryInto(qp.reshape({T, nh * hd}), cos, sin, q);
    rotaryInto(kp.reshape({T, kvh * hd}), cos, sin, cache.k[size_t(l)].narrow(1, pos0, T));
    cache.v[size_t(l)].narrow(1, pos0, T).copy_(vp.reshape({T, kvh, hd}).transpose(0, 1));
    at::Tensor a;  // [nh, T, hd]
    if (onePositionKernels) {
      a = attentionOnePosition(q, cache.k[size_t(l)], cache.v[size_t(l)], Lk, scale);
    } else {
      at::Tensor K = cache.k[size_t(l)].narrow(1, 0, Lk);  // [kvh, Lk, hd]
      at::Tensor V = cache.v[size_t(l)].narrow(1, 0, Lk);
      // GQA (repeat_kv): query head h uses kv head h / G; group the G heads' rows per kv head.
      at::Tensor qg = q.reshape({kvh, G * T, hd});  // [kvh, G*T, hd]
      a = attention(qg, K, V, scale, mask).reshape({nh, T, hd});
    }
    a = a.transpose(0, 1).reshape({T, nh * hd});                                   // [T, nh*hd]
    x = x + project(a, w.wo);
    // ---- SwiGLU MLP: down(silu(gate(n2)) * up(n2))
    at::Tensor n2 = rmsNorm(x, w.postNorm, lc.rmsEps);
    auto [gate, up] = projectSeveral<2>(n2, {&w.wGate, &w.wUp});
    at::Tensor h = siluTimes(gate, up);                                         // [T, I]
    x = x + project(h, w.wDown);
  }
  if (progress && !progress(lc.layers, lc.layers)) throw StopRequested{};
  at::Tensor last = rmsNorm(x.narrow(0, T - 1, 1), m.w.finalNorm, lc.rmsEps);     // [1, H]
  return project(last, m.w.lmHead).reshape({lc.vocab});                        // [V]
}

}  // namespace cxr::detail
