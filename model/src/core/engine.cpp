// The public API of model/ (engine.h): loading, image encoding, generation with sampling as the
// reference does it (spec 6.1), and conversations that keep their KV cache between turns.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <optional>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "core/block_reuse.h"
#include "core/checkpoint.h"
#include "core/cpu_level.h"
#include "core/engine_internal.h"
#include "core/prefix_cache.h"
#include "core/sha256.h"
#include "core/thread_pool.h"
#include "core/weight_table.h"
#include "core/weights_choice.h"
#include "preprocess/preprocess.h"

namespace fs = std::filesystem;

namespace cxr {

using detail::kImageTokenId;
using Clock = std::chrono::steady_clock;

namespace detail {

int physicalCores() {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, physical;
  while (std::getline(in, line)) {
    auto value = [&] { return line.substr(line.find(':') + 1); };
    if (line.rfind("physical id", 0) == 0) physical = value();
    if (line.rfind("core id", 0) == 0) cores.insert({physical, value()});
  }
  int n = int(cores.size());
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  return std::max(1, n);
}

// A load (or quantize) may ask for up to the logical CPUs. The kernels are bound by memory bandwidth
// and the physical cores (the default) already saturate it; threads above the CPU count only
// time-slice against each other, and 100,000 of them stall the machine.
int resolveThreads(int asked, const std::string& action) {
  const int cpus = std::max(1, int(std::thread::hardware_concurrency()));
  if (asked < 0 || asked > cpus)
    throw ModelError(action + ": " + std::to_string(asked) + " threads were asked for, but this machine has " +
                     std::to_string(cpus) + " logical CPUs: give 1 to " + std::to_string(cpus) +
                     " threads (or 0 for the " + std::to_string(physicalCores()) + " physical cores, the default)");
  const int threads = asked > 0 ? asked : physicalCores();
  at::set_num_threads(threads);  // prefill, vision and the making of quantized weights (OpenMP)
  setKernelThreads(threads);     // the decode step's own kernels (thread_pool.h)
  return threads;
}

}  // namespace detail

namespace {

// libtorch reports failures (out of memory, a kernel missing for a dtype) as c10::Error; the API
// promises cxr::ModelError with a readable sentence.
template <typename F>
auto translateTorchErrors(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw ModelError(std::string(what) + " failed inside libtorch: " + e.what_without_backtrace());
  }
}

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

at::ScalarType resolveDtype(const std::string& dtype, const at::Device& device, std::string& name) {
  if (dtype == "auto" || dtype == "bf16" || dtype == "bfloat16") {
    name = "bf16";
    return at::kBFloat16;
  }
  if (dtype == "f32" || dtype == "fp32" || dtype == "float32") {
    name = "f32";
    return at::kFloat;
  }
  if (dtype == "f16" || dtype == "fp16" || dtype == "float16") {
    if (!device.is_cuda())
      throw ModelError("dtype f16 is only supported on CUDA; use bf16 or f32 on the CPU");
    name = "f16";
    return at::kHalf;
  }
  throw ModelError("unknown dtype '" + dtype + "': use auto, bf16, f16 or f32");
}

at::Device resolveDevice(const std::string& device) {
  try {
    at::Device d(device.empty() ? std::string("cpu") : device);
    if (d.is_cuda() && !at::hasCUDA())
      throw ModelError("device '" + device + "' was requested, but this libtorch build has no CUDA "
                       "support (or no GPU is visible); use --device cpu");
    if (!d.is_cpu() && !d.is_cuda()) throw ModelError("device '" + device + "' is not supported: use cpu or cuda[:N]");
    return d;
  } catch (const c10::Error&) {
    throw ModelError("unknown device '" + device + "': use cpu, cuda or cuda:N");
  }
}

}  // namespace

std::string toString(StopReason r) {
  switch (r) {
    case StopReason::EndOfSequence: return "eos";
    case StopReason::MaxNewTokens: return "max_new_tokens";
    case StopReason::ContextFull: return "context_full";
    case StopReason::Cancelled: return "cancelled";
  }
  return "?";
}

namespace {
std::string number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

std::string checkSampling(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0 || p.temperature > SamplingParams::kMaxTemperature)
    return "temperature " + number(p.temperature) + " is out of range: use a number from 0 (greedy) to " +
           number(SamplingParams::kMaxTemperature);
  if (!std::isfinite(p.topP) || p.topP <= 0 || p.topP > 1)
    return "top-p " + number(p.topP) + " is out of range: use a number above 0 and at most 1";
  if (p.topK < 0) return "top-k " + std::to_string(p.topK) + " is out of range: use 0 (off) or more";
  if (p.maxNewTokens < 0 || p.maxNewTokens > SamplingParams::kMaxNewTokens)
    return "max new tokens " + std::to_string(p.maxNewTokens) + " is out of range: use 0 (automatic) to " +
           std::to_string(SamplingParams::kMaxNewTokens);
  return {};
}

std::string ContextBudget::refusal() const {
  return "The question is " + std::to_string(promptTokens) +
         " tokens (image, system prompt and conversation so far included); the model's context holds " +
         std::to_string(contextTokens) + ", and the answer needs room for at least " +
         std::to_string(minimumAnswer) + ". Shorten it or start a new conversation.";
}

// prompts::kSystem / kReport / kDifferential / ask live with the chat template (tokenizer area).

// ---- Model ----------------------------------------------------------------------------------

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
const ModelInfo& Model::info() const { return impl_->info; }
double Model::loadSeconds() const { return impl_->loadSeconds; }

namespace {

std::string prefixCacheRangeProblem(int images) {
  if (images >= 0 && images <= LoadOptions::kMaxPrefixCacheImages) return {};
  return std::to_string(images) + " images were asked for in the prefix cache: give 0 (off) to " +
         std::to_string(LoadOptions::kMaxPrefixCacheImages);
}

// Model::load's work; `stage` says what it is doing, for the out-of-memory message.
std::unique_ptr<Model::Impl> loadImpl(const std::string& folder, const LoadOptions& options,
                                      const LoadProgress& progress, std::string& stage) {
  const auto t0 = Clock::now();
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw ModelError("Cannot load the model: " + folder + " is not a folder (give the model folder "
                     "that holds config.json and the *.safetensors files)");
  const int threads = detail::resolveThreads(options.threads, "Cannot load the model");
  detail::installBlockReuse();  // prefill and vision reuse their large blocks (block_reuse.h)
  if (const std::string problem = checkWeightsChoice(options.weights); !problem.empty())
    throw ModelError("Cannot load the model: " + problem);
  if (const std::string problem = prefixCacheRangeProblem(options.prefixCacheImages); !problem.empty())
    throw ModelError("Cannot load the model: " + problem);
  auto m = std::make_unique<Model::Impl>();
  m->prefixCache = std::make_shared<detail::PrefixCache>();
  m->prefixCache->setCapacity(options.prefixCacheImages);
  if (progress && !progress(0.0, "reading config.json")) throw LoadCancelled();
  std::vector<std::string> problems;
  const std::string configPath = (fs::path(folder) / "config.json").string();
  m->cfg = detail::readModelConfig(configPath, problems);
  if (!problems.empty()) throw ModelError(detail::formatProblems(folder, problems));

  m->device = resolveDevice(options.device);
  std::string dtypeName;
  m->dtype = resolveDtype(options.dtype, m->device, dtypeName);
  // bf16 on the CPU needs at least the AVX2 level's kernels (and keeps bf16 products away from
  // ATen's generic GEMM, hours per report); a CPU from before 2013 lacks them.
  if (m->device.is_cpu() && m->dtype == at::kBFloat16 && !detail::cpuHasAvx2())
    throw ModelError("Cannot load the model in bf16: this CPU lacks AVX2, FMA or F16C (x86-64 CPUs since 2013 "
                     "have them), which the engine's bf16 kernels need. Load it with dtype f32 (--dtype f32).");

  // Weights and tokenizer are both checked before either problem is reported: one message lists all.
  stage = "reading the weight files' headers";
  m->checkpoint = detail::Checkpoint::open(folder, m->cfg, problems, progress);
  if (progress && !progress(0.1, "reading tokenizer.model")) throw LoadCancelled();
  stage = "reading tokenizer.model";
  try {
    m->tokenizer = detail::Tokenizer::load(folder);
    if (m->tokenizer->vocabSize() != m->cfg.llama.vocab)
      problems.push_back("tokenizer.model has " + std::to_string(m->tokenizer->vocabSize()) +
                         " pieces but config.json says vocab_size " + std::to_string(m->cfg.llama.vocab) +
                         ": the tokenizer does not belong to these weights");
  } catch (const ModelError& e) {
    problems.push_back(e.what());
  }
  if (!problems.empty()) throw ModelError(detail::formatProblems(folder, problems));

  // int8 / int4 decoder weights: the cache file, made first if this is their first use (quant_cache.h).
  // ("auto" looks at the machine's memory only for the CPU: a GPU holds the weights in its own.)
  const detail::WeightsChoice weights = detail::chooseWeights(
      options.weights, m->checkpoint->parameterCount(),
      m->device.is_cpu() ? detail::availableMemoryBytes() : std::nullopt);
  LoadProgress bindProgress = progress;
  if (weights.format) {
    const char* format = detail::toString(*weights.format);
    if (!m->device.is_cpu())
      throw ModelError(std::string("Cannot load the model: ") + format + " weights run on the CPU only; use --weights bf16 with --device " +
                       options.device);
    stage = std::string("making or reading the ") + format + " weights";
    m->quant = detail::QuantizedWeights::openOrMake(folder, m->cfg, *m->checkpoint, *weights.format, progress, 0.1, 0.7);
    // bindWeights reports 0.1 .. 1 for the weights that stay as stored: shown as 0.7 .. 1.
    if (progress)
      bindProgress = [&progress](double fraction, const std::string& what) {
        return progress(0.7 + (fraction - 0.1) / 0.9 * 0.3, what);
      };
  }

  // LoadCancelled propagates; `m` and its mappings are freed
  stage = "creating the weight tensors (" + std::to_string(m->checkpoint->weightBytes()) +
          " bytes stored) and the rotary tables (" + std::to_string(m->cfg.contextPositions()) + " positions)";
  try {
    detail::bindWeights(*m, bindProgress);
  } catch (const c10::Error& e) {
    // libtorch's allocator reports "DefaultCPUAllocator: can't allocate memory" this way.
    throw ModelError("Cannot load the model in " + folder + ": " + stage + " failed inside libtorch (" +
                     e.what_without_backtrace() + "); most likely the memory is not enough for this model");
  }
  stage = "finishing";

  ModelInfo& info = m->info;
  const auto& c = m->cfg;
  info.kind = c.kind;
  info.folder = fs::absolute(folder, ec).lexically_normal().string();
  info.device = m->device.str();
  info.dtype = dtypeName;
  info.threads = threads;
  info.storedDtype = m->checkpoint->storedDtypeSummary();
  info.parameterCount = m->checkpoint->parameterCount();
  info.weightBytes = m->checkpoint->weightBytes();
  if (c.kind == ModelKind::CxrLlava) {
    info.imageSize = c.vision.imageSize;
    info.patchSize = c.vision.patchSize;
    info.imageTokens = c.vision.tokens();
    info.visionWidth = c.vision.width;
    info.visionLayers = c.vision.layers;
  }
  info.hiddenSize = c.llama.hidden;
  info.layers = c.llama.layers;
  info.heads = c.llama.heads;
  info.kvHeads = c.llama.kvHeads;
  info.vocabSize = c.llama.vocab;
  info.maxContext = c.maxContext;
  info.tokenizerLegacy = m->tokenizer->legacy();
  info.configSha256 = c.configSha256;
  info.weightIndexSha256 = m->checkpoint->indexSha256();
  info.cpuLevel = detail::toString(detail::cpuLevel());
  info.weights = weights.format ? detail::toString(*weights.format) : "bf16";
  info.weightsReason = weights.reason;
  if (m->quant) {
    info.weightsCache = m->quant->path();
    info.weightsCacheNotice = m->quant->notice();
  }
  m->loadSeconds = secondsSince(t0);
  if (progress) progress(1.0, "ready");
  return m;
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& folder, const LoadOptions& options,
                                   const LoadProgress& progress) {
  // Out of memory anywhere in loading (a config that passed validation can still describe more
  // than this machine holds) is a sentence naming the folder and the stage, never std::bad_alloc.
  std::string stage = "reading config.json";
  try {
    auto impl = loadImpl(folder, options, progress, stage);
    return std::unique_ptr<Model>(new Model(std::move(impl)));
  } catch (const std::bad_alloc&) {
    throw ModelError("Cannot load the model in " + folder + ": out of memory while " + stage +
                     "; the model needs more memory than is free (close other programs, or check "
                     "that config.json describes the weights)");
  } catch (const std::length_error&) {
    throw ModelError("Cannot load the model in " + folder + ": a size out of range while " + stage +
                     " (config.json or the weights are damaged)");
  }
}

PreprocessInfo Model::preprocess(const ImageInput& image) const {
  if (impl_->cfg.kind != ModelKind::CxrLlava)
    throw ModelError("this is a text-only model (LlamaForCausalLM): it has no image input");
  return detail::preprocessImage(image, impl_->cfg.vision.imageSize);
}

std::vector<int32_t> Model::tokenize(const std::string& text, bool addBos) const {
  return impl_->tokenizer->encode(text, addBos);
}

std::string Model::detokenize(const std::vector<int32_t>& ids) const {
  return impl_->tokenizer->decode(ids, true);
}

namespace {

// How much lower than the caller work done ahead of time runs (nice +10: a thread at nice 0 that
// wants the core gets ~90 % of it against one at +10).
constexpr int kBackgroundNiceIncrement = 10;

// Runs `work` on a thread of its own at a lower scheduling priority and waits for its result (or
// exception). Why a thread of its own: libgomp gives every thread that opens a parallel region its
// own team of OpenMP threads, which that thread creates and which inherit its nice value. So the
// whole preparation (the image's encoding, then its prefix), libtorch's matrix products included,
// yields to the GUI and to the user's other programs, while the caller's team (the foreground
// prefill) and the decode pool keep their priority. An unprivileged thread cannot raise its priority
// again once lowered, hence a fresh thread each time (its OpenMP team ends with it).
template <typename Work>
auto atLowPriority(Work work) -> decltype(work()) {
  using Result = decltype(work());
  std::optional<Result> result;
  std::exception_ptr error;
  std::thread background([&] {
    // Linux: a thread id as PRIO_PROCESS lowers that thread only. A failure just leaves the priority.
    const auto self = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, self);
    if (errno == 0) setpriority(PRIO_PROCESS, self, std::min(19, nice + kBackgroundNiceIncrement));
    try {
      result.emplace(work());
    } catch (...) {
      error = std::current_exception();
    }
  });
  background.join();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace

std::shared_ptr<const EncodedImage> Model::encodeImage(const ImageInput& image, const PhaseProgress& progress,
                                                       WorkPriority priority) {
  if (priority == WorkPriority::Background)
    return atLowPriority([&] { return encodeImage(image, progress, WorkPriority::Foreground); });
  const Impl& m = *impl_;
  auto t0 = Clock::now();
  if (progress && !progress(Phase::Preprocess, 0, 1)) throw Cancelled();
  auto enc = std::make_unique<EncodedImage::Impl>();
  enc->owner = &m;
  enc->preprocess = preprocess(image);
  enc->pixelValues = detail::normalizePixels(enc->preprocess.crop, m.cfg.imageMean, m.cfg.imageStd);
  enc->preprocessSeconds = secondsSince(t0);
  if (progress && !progress(Phase::Preprocess, 1, 1)) throw Cancelled();

  auto t1 = Clock::now();
  c10::InferenceMode guard;
  const int64_t S = m.cfg.vision.imageSize;
  at::Tensor pixels = at::from_blob(enc->pixelValues.data(), {S, S}, at::kFloat);
  try {
    enc->embeddings = translateTorchErrors("encoding the image", [&] {
      return detail::visionForward(m, pixels, [&](int done, int total) {
        return !progress || progress(Phase::Vision, done, total);
      });
    });
  } catch (const detail::StopRequested&) {
    throw Cancelled();
  }
  enc->visionSeconds = secondsSince(t1);
  // The tower's weights are not needed again until the next image (checkpoint.h); the projector's
  // are small and stay.
  if (m.checkpoint) m.checkpoint->releaseResidentPages(detail::visionTowerPrefix());
  return std::make_shared<EncodedImage>(std::move(enc));
}

// ---- The shared image prefix (prefix_cache.h) -------------------------------------------------

int Model::preparePrefix(const std::shared_ptr<const EncodedImage>& image, const std::string& systemPrompt,
                         const PhaseProgress& progress) {
  Impl& m = *impl_;
  if (m.cfg.kind != ModelKind::CxrLlava)
    throw ModelError("this is a text-only model (LlamaForCausalLM): it has no image prefix to prepare");
  if (!image) throw ModelError("no image to prepare: encode one first");
  if (detail::Access::of(*image).owner != &m)
    throw ModelError("the image was encoded by a different model; encode it again with this one");
  if (m.prefixCache->capacity() == 0) return 0;
  // The first user turn as a Conversation renders it; the ids before the image do not depend on
  // what the user writes after it (the tokenizer splits the text at "<image>").
  std::vector<Message> chat;
  if (!systemPrompt.empty()) chat.push_back({Message::Role::System, systemPrompt});
  chat.push_back({Message::Role::User, "<image>\n"});
  const std::vector<int32_t> ids = m.tokenizer->encodeChat(detail::renderLlama2ChatParts(chat));
  const size_t shared = detail::PrefixCache::prefixLength(ids);
  if (shared == 0 || m.prefixCache->contains(image, ids, shared)) return 0;

  // At low priority: this is work ahead of time (the GUI prepares while the user looks).
  return atLowPriority([&] {
    return translateTorchErrors("preparing the image prefix", [&] {
      c10::InferenceMode guard;
      std::vector<int32_t> text(ids.begin(), ids.begin() + std::ptrdiff_t(shared) - 1);
      const at::Tensor& rows = detail::Access::of(*image).embeddings;  // [N, H]
      at::Tensor x = text.empty() ? rows.to(m.device, m.dtype)
                                  : at::cat({detail::embedTokens(m, text), rows.to(m.device, m.dtype)}, 0);  // [P, H]
      const int positions = int(x.size(0));
      if (positions >= m.kvLimit())
        throw ModelError("the image and the system prompt take " + std::to_string(positions) +
                         " positions, more than the model's context holds (" + std::to_string(m.kvLimit()) + ")");
      detail::KvCache cache;
      detail::ensureCapacity(m, cache, positions);
      try {
        detail::llamaForward(m, cache, x, 0, [&](int done, int total) {
          return !progress || progress(Phase::Prefill, done, total);
        });
      } catch (const detail::StopRequested&) {
        throw Cancelled();
      }
      m.prefixCache->store(image, ids, shared, cache, positions);
      return positions;
    });
  });
}

void Model::setPrefixCacheImages(int images) {
  if (const std::string problem = prefixCacheRangeProblem(images); !problem.empty()) throw ModelError(problem);
  impl_->prefixCache->setCapacity(images);
}
int Model::prefixCacheImages() const { return impl_->prefixCache->capacity(); }
int64_t Model::prefixCacheBytes() const { return impl_->prefixCache->bytes(); }

// ---- EncodedImage -----------------------------------------------------------------------------

EncodedImage::EncodedImage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EncodedImage::~EncodedImage() = default;
const PreprocessInfo& EncodedImage::preprocessInfo() const { return impl_->preprocess; }
double EncodedImage::preprocessSeconds() const { return impl_->preprocessSeconds; }
double EncodedImage::visionSeconds() const { return impl_->visionSeconds; }

// ---- Sampling (spec 6.1: the warpers of transformers' _get_logits_warper, in its order) --------

namespace detail {
namespace {

std::vector<float> toFloatVector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// argmax with the first index on ties (torch.argmax / the reference greedy search).
int32_t argmaxFirst(const at::Tensor& logits) {
  std::vector<float> v = toFloatVector(logits);
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return int32_t(best);
}

// temperature -> top-k (ties kept) -> top-p -> softmax -> multinomial, on the logits' own dtype
// (bf16 for a bf16 model, as the reference), on the CPU generator so that a seed gives the same
// text whatever the device.
int32_t sampleToken(const at::Tensor& logits, const SamplingParams& p, at::Generator& gen) {
  at::Tensor scores = logits.to(at::kCPU).reshape({1, -1});  // [1, V]
  const int64_t V = scores.size(1);
  if (p.temperature != 1.0f) scores = scores / double(p.temperature);
  if (p.topK > 0) {
    const int64_t k = std::min<int64_t>(p.topK, V);
    at::Tensor kth = std::get<0>(at::topk(scores, k)).narrow(1, k - 1, 1);  // [1, 1]
    scores = scores.masked_fill(scores < kth, -std::numeric_limits<float>::infinity());
  }
  if (p.topP < 1.0f) {
    auto sorted = at::sort(scores, /*dim=*/-1, /*descending=*/false);
    at::Tensor sortedLogits = std::get<0>(sorted), sortedIdx = std::get<1>(sorted);
    at::Tensor cumulative = sortedLogits.softmax(-1).cumsum(-1);
    // Compared in the scores' dtype: for bf16 the threshold is bf16(1 - top_p) as in the reference.
    at::Tensor removeSorted = cumulative <= (1.0 - double(p.topP));
    removeSorted.narrow(1, V - 1, 1).fill_(false);  // always keep the most likely token
    at::Tensor remove = removeSorted.scatter(1, sortedIdx, removeSorted);
    scores = scores.masked_fill(remove, -std::numeric_limits<float>::infinity());
  }
  at::Tensor probs = at::softmax(scores, -1);
  at::Tensor next = at::multinomial(probs, 1, /*replacement=*/false, gen);
  return int32_t(next.item<int64_t>());
}

// The generation state a conversation keeps between turns.
struct Session {
  KvCache cache;
  std::vector<int32_t> cachedIds;  // ids whose positions are valid in the cache (-200 = image)
};

// Positions taken by the first n ids when the image (at index imageAt, or -1) has `imageTokens`.
int positionsOf(size_t n, int imageAt, int imageTokens) {
  return int(n) + ((imageAt >= 0 && int(n) > imageAt) ? imageTokens - 1 : 0);
}

// The context a prompt of `idCount` ids (one of them the image, at imageAt >= 0) may use.
ContextBudget budgetFor(const Model::Impl& m, size_t idCount, int imageAt, int imageTokens,
                        const SamplingParams& sampling) {
  ContextBudget b;
  const int64_t positions = int64_t(idCount) + ((imageAt >= 0) ? imageTokens - 1 : 0);
  b.promptTokens = int(std::min<int64_t>(positions, std::numeric_limits<int>::max()));
  // spec 6.1: max_new_tokens = min(512, max_context - len(ids) - 1), the image counted as one id;
  // in positions the context is then max_context - 1 plus the image's other rows. The KV capacity
  // (the language model's max_position_embeddings) bounds it too. An explicit max new tokens only
  // caps the answer: the context is the same.
  const int64_t byIds = int64_t(m.cfg.maxContext) - 1 + (positions - int64_t(idCount));
  b.contextTokens = int(std::min<int64_t>(m.kvLimit(), byIds));
  b.minimumAnswer = sampling.maxNewTokens > 0 ? std::min(kMinAnswerTokens, sampling.maxNewTokens) : kMinAnswerTokens;
  return b;
}

GenerationResult generate(Model::Impl& m, Session& s, const std::vector<int32_t>& ids,
                          const std::shared_ptr<const EncodedImage>& image, const SamplingParams& sampling,
                          const TokenCallback& onToken, const PhaseProgress& progress, DebugCapture* debug) {
  const auto t0 = Clock::now();
  c10::InferenceMode guard;
  GenerationResult r;
  r.promptIds = ids;
  r.sampling = sampling;
  r.seed = sampling.seed ? *sampling.seed : (uint64_t(std::random_device{}()) << 32 | std::random_device{}());
  r.sampling.seed = r.seed;
  r.timings.loadSeconds = m.loadSeconds;

  // ---- check the request
  if (const std::string problem = checkSampling(sampling); !problem.empty())
    throw ModelError("Cannot generate: " + problem + ".");
  if (ids.empty()) throw ModelError("the prompt is empty: give at least one token id");
  int imageAt = -1;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kImageTokenId) {
      if (imageAt >= 0)
        throw ModelError("the prompt holds more than one image placeholder (-200); CXR-LLaVA takes exactly one image");
      imageAt = int(i);
    } else if (ids[i] < 0 || ids[i] >= m.cfg.llama.vocab) {
      throw ModelError("token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                       " is outside the vocabulary (0.." + std::to_string(m.cfg.llama.vocab - 1) + ")");
    }
  }
  int imageTokens = 0;
  if (imageAt >= 0) {
    if (m.cfg.kind != ModelKind::CxrLlava)
      throw ModelError("the prompt holds an image placeholder (-200), but this is a text-only model");
    if (!image) throw ModelError("the prompt holds an image placeholder (-200) but no image was given: encode one first");
    if (detail::Access::of(*image).owner != &m)
      throw ModelError("the image was encoded by a different model; encode it again with this one");
    if (detail::Access::of(*image).embeddings.size(1) != m.cfg.llama.hidden)
      throw ModelError("the image was encoded by a different model; encode it again with this one");
    imageTokens = int(detail::Access::of(*image).embeddings.size(0));
  }

  // ---- budget (spec 6.1): min(512, context - len(ids) - 1), len counting -200 as one id; a prompt
  // that leaves no room for an answer is refused before the prefill
  const ContextBudget budget = budgetFor(m, ids.size(), imageAt, imageTokens, sampling);
  if (!budget.fits()) throw ModelError(budget.refusal());
  const int wanted = sampling.maxNewTokens > 0 ? sampling.maxNewTokens : 512;
  const int maxNew = std::min(wanted, budget.room());
  // An explicit max new tokens beyond the room: the answer ends where the context does, and says so.
  const bool contextBound = sampling.maxNewTokens > 0 && budget.room() < wanted;
  const int promptPositions = budget.promptTokens;

  // ---- reuse the cached prefix; always recompute at least the last id (its logits are needed)
  size_t common = 0;
  while (common < s.cachedIds.size() && common < ids.size() && s.cachedIds[common] == ids[common]) ++common;
  common = std::min(common, ids.size() - 1);
  s.cachedIds.resize(common);
  ensureCapacity(m, s.cache, int(std::min<int64_t>(m.kvLimit(), int64_t(promptPositions) + maxNew)));
  // ---- or the image's shared prefix (prefix_cache.h), kept from another prompt on this image
  const size_t shared = imageAt >= 0 ? PrefixCache::prefixLength(ids) : 0;
  if (shared > common && shared < ids.size() && m.prefixCache) {
    const int reused = m.prefixCache->restore(image, ids, shared, s.cache);
    if (reused > 0) {
      s.cachedIds.assign(ids.begin(), ids.begin() + std::ptrdiff_t(shared));
      common = shared;
      r.timings.reusedPrefixPositions = reused;
    }
  }
  const int pos0 = positionsOf(common, imageAt, imageTokens);

  // ---- input embeddings of the new part: text, then the image's rows spliced at -200
  std::vector<at::Tensor> parts;
  std::vector<int32_t> run;
  auto flush = [&] {
    if (!run.empty()) parts.push_back(embedTokens(m, run));
    run.clear();
  };
  for (size_t i = common; i < ids.size(); ++i) {
    if (ids[i] == kImageTokenId) {
      flush();
      parts.push_back(detail::Access::of(*image).embeddings.to(m.device, m.dtype));
    } else {
      run.push_back(ids[i]);
    }
  }
  flush();
  at::Tensor x = parts.size() == 1 ? parts[0] : at::cat(parts, 0);  // [T, H]
  const int T = int(x.size(0));

  if (debug && debug->enabled && image && imageAt >= 0) {
    const auto& e = detail::Access::of(*image);
    debug->pixelValues = e.pixelValues;
    const int64_t S = m.cfg.vision.imageSize;
    debug->pixelShape = {1, 1, S, S};
    debug->imageEmbeddings = toFloatVector(e.embeddings);
    debug->embeddingShape = {e.embeddings.size(0), e.embeddings.size(1)};
  }

  // ---- prefill
  const auto tPrefill = Clock::now();
  at::Tensor logits;
  try {
    // A prompt that starts with an image's shared prefix is computed in two parts, the prefix and
    // what follows it, whether or not the prefix was kept: the part after it then runs on the same
    // number of positions as when the prefix comes from the cache, and products on a few positions
    // take other kernels than long ones (products.h, quant_linear.h). So a prompt's answer is the
    // same with the prefix cache on or off, kept or not (test_engine_prefix).
    const int splitAt = shared > common && shared < ids.size() ? positionsOf(shared, imageAt, imageTokens) : pos0;
    const int firstPart = splitAt - pos0;
    // Progress goes by layers (the GUI says "layer 3 of 32") over the long first part; the short
    // part after it (a fraction of a second) still asks at every layer whether to stop.
    auto layerProgress = [&](int done, int total) { return !progress || progress(Phase::Prefill, done, total); };
    auto finishedProgress = [&](int, int total) { return !progress || progress(Phase::Prefill, total, total); };
    if (firstPart > 0) llamaForward(m, s.cache, x.narrow(0, 0, firstPart), pos0, layerProgress);
    const at::Tensor rest = x.narrow(0, firstPart, T - firstPart);
    if (firstPart > 0) logits = llamaForward(m, s.cache, rest, splitAt, finishedProgress);
    else logits = llamaForward(m, s.cache, rest, splitAt, layerProgress);
  } catch (const StopRequested&) {
    r.stopReason = StopReason::Cancelled;
    r.timings.prefillSeconds = secondsSince(tPrefill);
    return r;  // cache beyond `common` is stale; cachedIds says so
  }
  s.cachedIds.assign(ids.begin(), ids.end());
  r.timings.prefillSeconds = secondsSince(tPrefill);
  r.timings.prefillPositions = T;
  if (debug && debug->enabled) {
    debug->firstLogits = toFloatVector(logits);
    debug->logitsShape = {int64_t(debug->firstLogits.size())};
  }

  // ---- decode
  const bool greedy = sampling.temperature <= 0.001f;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(r.seed);
  StreamDecoder stream(*m.tokenizer);
  const auto tDecode = Clock::now();
  int position = promptPositions;
  r.stopReason = StopReason::MaxNewTokens;
  for (int step = 0;; ++step) {
    const int32_t next = greedy ? argmaxFirst(logits) : sampleToken(logits, sampling, gen);
    if (step == 0) r.timings.firstTokenSeconds = secondsSince(t0);
    if (next == m.cfg.llama.eosId) {
      r.stopReason = StopReason::EndOfSequence;
      break;
    }
    r.tokenIds.push_back(next);
    TokenEvent ev;
    ev.id = next;
    ev.index = step;
    ev.text = stream.push(next);
    r.text += ev.text;
    if (onToken && !onToken(ev)) {
      r.stopReason = StopReason::Cancelled;
      break;
    }
    // The reference's KeywordsStoppingCriteria(["</s>"]) also stops when the text of the last
    // (up to 3) generated tokens spells "</s>" literally; the token stays in the answer.
    if (m.cfg.kind == ModelKind::CxrLlava && m.tokenizer->lastTokensSpellEos(r.tokenIds)) {
      r.stopReason = StopReason::EndOfSequence;
      break;
    }
    if (int(r.tokenIds.size()) >= maxNew) {
      r.stopReason = contextBound ? StopReason::ContextFull : StopReason::MaxNewTokens;
      break;
    }
    if (position >= m.kvLimit()) {
      r.stopReason = StopReason::ContextFull;
      break;
    }
    ensureCapacity(m, s.cache, position + 1);
    logits = llamaForward(m, s.cache, embedTokens(m, {next}), position, {});
    s.cachedIds.push_back(next);
    ++r.timings.decodeSteps;
    ++position;
  }
  r.text += stream.finish();
  r.timings.decodeTokens = int(r.tokenIds.size());
  r.timings.decodeSeconds = secondsSince(tDecode);
  // Keep the image's shared prefix for the next prompt on it (after the answer, so that the copy
  // does not delay the first token; the decode wrote only positions after the prompt).
  if (shared > 0 && shared < ids.size() && m.prefixCache)
    m.prefixCache->store(image, ids, shared, s.cache, positionsOf(shared, imageAt, imageTokens));
  return r;
}

}  // namespace
}  // namespace detail

GenerationResult generateFromIds(Model& model, const std::vector<int32_t>& promptIds,
                                 const std::shared_ptr<const EncodedImage>& image,
                                 const SamplingParams& sampling, const TokenCallback& onToken,
                                 const PhaseProgress& progress, DebugCapture* debug) {
  detail::Session session;
  GenerationResult r = translateTorchErrors("generation", [&] {
    return detail::generate(detail::Access::of(model), session, promptIds, image, sampling, onToken, progress, debug);
  });
  if (image) {
    r.timings.preprocessSeconds = image->preprocessSeconds();
    r.timings.visionSeconds = image->visionSeconds();
  }
  return r;
}

// ---- Conversation -----------------------------------------------------------------------------

struct Conversation::Impl {
  Model& model;
  std::vector<Message> messages;
  std::shared_ptr<const EncodedImage> image;
  detail::Session session;
  bool imageTimingReported = false;

  explicit Impl(Model& m) : model(m) {}

  // The next user turn as the conversation holds it ("<image>\n" on the first, userTurnMessage).
  std::string userMessageFor(const std::string& question) const {
    const bool first = std::none_of(messages.begin(), messages.end(),
                                    [](const Message& m) { return m.role == Message::Role::User; });
    return userTurnMessage(question, first, image != nullptr);
  }

  // The template's BOS/EOS are the only control tokens; every message is literal text.
  std::vector<int32_t> promptIds() const { return promptIdsOf(messages); }
  std::vector<int32_t> promptIdsOf(const std::vector<Message>& chat) const {
    return detail::Access::of(model).tokenizer->encodeChat(detail::renderLlama2ChatParts(chat));
  }
  // Keep only the cached positions that the current messages still produce.
  void trimCache() {
    bool hasUser = false;
    for (const auto& msg : messages) hasUser |= msg.role == Message::Role::User;
    if (!hasUser) {
      session.cachedIds.clear();
      return;
    }
    const std::vector<int32_t> ids = promptIds();
    size_t common = 0;
    while (common < session.cachedIds.size() && common < ids.size() && session.cachedIds[common] == ids[common])
      ++common;
    session.cachedIds.resize(common);
  }
};

Conversation::Conversation(Model& model, std::string systemPrompt) : impl_(std::make_unique<Impl>(model)) {
  if (!systemPrompt.empty()) impl_->messages.push_back({Message::Role::System, std::move(systemPrompt)});
}
Conversation::~Conversation() = default;

void Conversation::setImage(std::shared_ptr<const EncodedImage> image) {
  if (image && detail::Access::of(*image).owner != &detail::Access::of(impl_->model))
    throw ModelError("the image was encoded by a different model; encode it again with this one");
  if (image != impl_->image) {
    impl_->image = std::move(image);
    impl_->session.cachedIds.clear();  // the cached positions hold the old image
    impl_->imageTimingReported = false;
  }
}
const std::shared_ptr<const EncodedImage>& Conversation::image() const { return impl_->image; }

GenerationResult Conversation::send(const std::string& userMessage, const SamplingParams& sampling,
                                    const TokenCallback& onToken, const PhaseProgress& progress,
                                    DebugCapture* debug) {
  Impl& c = *impl_;
  c.messages.push_back({Message::Role::User, c.userMessageFor(userMessage)});
  std::vector<int32_t> ids;
  try {
    ids = c.promptIds();
    GenerationResult r = translateTorchErrors("generation", [&] {
      return detail::generate(detail::Access::of(c.model), c.session, ids, c.image, sampling, onToken, progress, debug);
    });
    if (c.image && !c.imageTimingReported) {
      r.timings.preprocessSeconds = c.image->preprocessSeconds();
      r.timings.visionSeconds = c.image->visionSeconds();
      c.imageTimingReported = true;
    }
    c.messages.push_back({Message::Role::Assistant, r.text});
    return r;
  } catch (...) {
    c.messages.pop_back();  // an error (not a cancellation) leaves the conversation as it was
    throw;
  }
}

void Conversation::restore(const std::vector<Message>& turns) {
  Impl& c = *impl_;
  std::vector<Message> restored;
  size_t first = 0;
  if (!turns.empty() && turns[0].role == Message::Role::System) {
    restored.push_back(turns[0]);
    first = 1;
  } else if (!c.messages.empty() && c.messages[0].role == Message::Role::System) {
    restored.push_back(c.messages[0]);
  }
  if (const std::string problem = turnOrderProblem(turns); !problem.empty())
    throw ModelError("cannot restore the conversation: " + problem);
  for (size_t i = first; i < turns.size(); ++i) {
    Message turn = turns[i];
    if (turn.role == Message::Role::User) turn.content = userTurnMessage(turn.content, i == first, c.image != nullptr);
    restored.push_back(std::move(turn));
  }
  if (turns.size() > first && !c.image && turns[first].content.find("<image>") != std::string::npos)
    throw ModelError("cannot restore the conversation: its first message refers to the image (<image>); "
                     "encode the image and call setImage() before restore()");
  c.messages = std::move(restored);
  c.session.cachedIds.clear();  // the next send() prefills the whole restored conversation
}

std::string Conversation::popLastExchange() {
  Impl& c = *impl_;
  std::string user;
  if (!c.messages.empty() && c.messages.back().role == Message::Role::Assistant) c.messages.pop_back();
  if (!c.messages.empty() && c.messages.back().role == Message::Role::User) {
    user = c.messages.back().content;
    c.messages.pop_back();
  }
  c.trimCache();
  return user;
}

void Conversation::reset() {
  Impl& c = *impl_;
  while (c.messages.size() > 1 || (!c.messages.empty() && c.messages.back().role != Message::Role::System))
    c.messages.pop_back();
  c.session.cachedIds.clear();
}

std::vector<int32_t> Conversation::promptIdsWith(const std::string& userMessage) const {
  std::vector<Message> chat = impl_->messages;
  chat.push_back({Message::Role::User, impl_->userMessageFor(userMessage)});
  return impl_->promptIdsOf(chat);
}

ContextBudget Conversation::contextBudgetWith(const std::string& userMessage, const SamplingParams& sampling) const {
  const std::vector<int32_t> ids = promptIdsWith(userMessage);
  const Model::Impl& m = detail::Access::of(impl_->model);
  const auto at = std::find(ids.begin(), ids.end(), kImageTokenId);
  const int imageAt = at == ids.end() ? -1 : int(at - ids.begin());
  const int imageTokens = impl_->image ? int(detail::Access::of(*impl_->image).embeddings.size(0))
                                       : (m.cfg.kind == ModelKind::CxrLlava ? m.cfg.vision.tokens() : 0);
  return detail::budgetFor(m, ids.size(), imageAt, imageTokens, sampling);
}

const std::vector<Message>& Conversation::messages() const { return impl_->messages; }
std::string Conversation::renderedPrompt() const { return detail::renderLlama2Chat(impl_->messages); }

int Conversation::cachedPositions() const {
  const auto& ids = impl_->session.cachedIds;
  int imageTokens = impl_->image ? int(detail::Access::of(*impl_->image).embeddings.size(0)) : 0;
  int n = 0;
  for (int32_t id : ids) n += id == kImageTokenId ? imageTokens : 1;
  return n;
}

}  // namespace cxr
