// The public face of the CXR-LLaVA engine.
//
// This header is the whole contract between model/ and its clients (the cxr-llava command-line
// tool, the assistant's worker thread, tests). It deliberately mentions no torch, Qt or
// sentencepiece type: clients compile fast and never meet libtorch's macros. Everything heavy sits
// behind the pimpl pointers.
//
// Errors: every function that can fail throws cxr::ModelError whose what() is a complete,
// user-facing sentence naming the file / tensor / key and the problem (e.g.
// "model-00002-of-00003.safetensors: tensor 'lm_head.weight' has shape [32000, 512], expected
// [32000, 4096]"). Cancellation is not an error: it is reported through StopReason::Cancelled or
// LoadCancelled.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxr {

// ---- Errors ---------------------------------------------------------------------------------

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by Model::load when the progress callback asked to stop. Not a failure.
class LoadCancelled : public std::runtime_error {
 public:
  LoadCancelled() : std::runtime_error("loading was cancelled") {}
};

// ---- Loading --------------------------------------------------------------------------------

struct LoadOptions {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N" (needs a CUDA build of libtorch)
  std::string dtype = "auto";  // "auto" (bf16 on CPU/CUDA), "bf16", "f16", "f32"
  int threads = 0;             // intra-op threads; 0 = number of physical cores
  // Images whose shared prompt prefix (BOS, system prompt, image rows: the positions every prompt
  // on the image starts with) keeps its KV cache, so that the next prompt on the image (a new
  // conversation, the differential after the report, a batch run's next task) prefills only what
  // follows. Each costs layers x 2 x kvHeads x headDim x positions x element size: 559 MB at the
  // 7B shapes in bf16 (1,066 positions). 0 turns it off. 0 .. kMaxPrefixCacheImages.
  int prefixCacheImages = 2;
  static constexpr int kMaxPrefixCacheImages = 64;
};

// Called during loading with a fraction in [0,1] and a short stage description
// ("reading config.json", "mapping model-00001-of-00003.safetensors", "layer 12/32", ...).
// Return false to cancel: load() then throws LoadCancelled promptly (within one tensor / layer).
using LoadProgress = std::function<bool(double fraction, const std::string& stage)>;

enum class ModelKind {
  CxrLlava,    // vision tower + projector + LLaMA (the CXR-LLaVA v2 folder)
  TextLlama,   // a plain Hugging Face LlamaForCausalLM folder: text-only generation
};

struct ModelInfo {
  ModelKind kind = ModelKind::CxrLlava;
  std::string folder;             // absolute path of the loaded folder
  std::string device;             // resolved, e.g. "cpu" or "cuda:0"
  std::string dtype;              // resolved compute dtype: "bf16", "f16", "f32"
  int threads = 0;
  std::string storedDtype;        // dtype of the weights in the files ("BF16", "F32", mixed...)
  int64_t parameterCount = 0;
  int64_t weightBytes = 0;        // bytes of tensor data in the safetensors files
  // Shapes that matter to a user or a benchmark.
  int imageSize = 0, patchSize = 0, imageTokens = 0, visionWidth = 0, visionLayers = 0;
  int hiddenSize = 0, layers = 0, heads = 0, kvHeads = 0, vocabSize = 0;
  int maxContext = 0;             // generation budget context (2048 for CXR-LLaVA: spec section 6.1)
  bool tokenizerLegacy = true;    // tokenizer_config.json "legacy" (absent: true)
  std::string configSha256;       // sha256 of config.json
  std::string weightIndexSha256;  // sha256 of model.safetensors.index.json (or of the single file's header)
};

// ---- Images ---------------------------------------------------------------------------------

// An 8-bit image as the viewer hands it over: row-major, tightly packed, 1 (gray) or 3 (RGB)
// channels. RGB is converted to gray with Pillow's integer luma, exactly as the reference does.
struct ImageInput {
  int width = 0;
  int height = 0;
  int channels = 1;
  std::vector<uint8_t> pixels;  // width * height * channels bytes
};

// The result of preprocessing: the exact 8-bit crop the model sees and where it came from in the
// input, so a viewer can outline the part that was cut away.
struct PreprocessInfo {
  int resizedWidth = 0, resizedHeight = 0;  // after shortest-edge resize
  int cropLeft = 0, cropTop = 0;            // offsets of the crop inside the resized image
  int cropSize = 0;                         // the square side (config image_size)
  std::vector<uint8_t> crop;                // cropSize * cropSize gray bytes
};

// An image that went through preprocessing + vision tower + projector. Shared, immutable and
// reusable: a new conversation on the same image does not encode it again.
class EncodedImage;

// ---- Sampling and results -------------------------------------------------------------------

struct SamplingParams {
  float temperature = 0.2f;  // <= 0.001: greedy argmax (the reference's rule); 0 .. kMaxTemperature
  float topP = 0.8f;         // (0, 1]
  int topK = 50;             // 0 disables; >= 0 (more than the vocabulary keeps every token)
  int maxNewTokens = 0;      // 0: the reference rule min(512, maxContext - promptIds - 1); 0 .. kMaxNewTokens
                             // (either way no more than the context leaves: ContextBudget)
  std::optional<uint64_t> seed;  // absent: a fresh random seed is drawn and reported in the result
  // Sampling (temperature -> top-k -> top-p -> softmax -> multinomial, in the logits' dtype) draws
  // from a CPU torch generator seeded with `seed`, also when the model runs on CUDA: the same seed,
  // settings, device and dtype give the same tokens.

  // The accepted ranges. Generation throws ModelError outside them (NaN and infinities included);
  // the command-line tools and the window check their options against the same numbers.
  static constexpr float kMaxTemperature = 5.0f;
  static constexpr int kMaxNewTokens = 65536;
};
// Empty when `p` is within the ranges above, else a sentence naming the setting, its value and
// the range.
std::string checkSampling(const SamplingParams& p);

enum class StopReason { EndOfSequence, MaxNewTokens, ContextFull, Cancelled };
std::string toString(StopReason);

struct Timings {
  double loadSeconds = 0;        // filled by Model (time of the last load)
  double preprocessSeconds = 0;
  double visionSeconds = 0;      // vision tower + projector (0 when the image was reused)
  double prefillSeconds = 0;
  int prefillPositions = 0;      // positions processed by this call's prefill (new tokens only)
  int reusedPrefixPositions = 0; // positions copied from the image's shared prefix instead (Model::preparePrefix)
  double firstTokenSeconds = 0;  // from the call to the first generated token
  double decodeSeconds = 0;      // from the first sampled token to the last
  int decodeTokens = 0;          // tokens generated (EOS excluded)
  int decodeSteps = 0;           // forward passes in that time: the first token comes from the prefill
  // Decode speed: forward passes per second (tokens/s once the first token is out).
  double decodeTokensPerSecond() const {
    return decodeSeconds > 0 ? decodeSteps / decodeSeconds : 0;
  }
  double prefillPositionsPerSecond() const {
    return prefillSeconds > 0 ? prefillPositions / prefillSeconds : 0;
  }
};

struct GenerationResult {
  std::string text;                // decoded answer, specials skipped, leading space dropped
  std::vector<int32_t> tokenIds;   // generated ids (EOS excluded)
  std::vector<int32_t> promptIds;  // ids of the whole conversation so far, -200 for the image
  StopReason stopReason = StopReason::EndOfSequence;
  uint64_t seed = 0;
  SamplingParams sampling;         // the settings actually used (seed filled in)
  Timings timings;
};

// Streaming. `text` holds only complete UTF-8 (a multi-byte character split across tokens is held
// back until it is whole). Return false to stop generation after this token.
struct TokenEvent {
  int32_t id = 0;
  int index = 0;        // 0-based index of the generated token
  std::string text;     // new text since the previous event (may be empty)
};
using TokenCallback = std::function<bool(const TokenEvent&)>;

// Progress of long phases (image encoding, prompt prefill): called at least once per transformer
// layer with done/total in the phase's own units. Return false to cancel; the call then returns
// with StopReason::Cancelled (or encodeImage throws Cancelled) within one layer.
enum class Phase { Preprocess, Vision, Prefill };
using PhaseProgress = std::function<bool(Phase phase, int done, int total)>;

class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

// Debug / verification outputs (cxr-llava --dump-dir). Empty vectors when not requested.
struct DebugCapture {
  bool enabled = false;
  std::vector<float> pixelValues;      // [1,1,S,S]
  std::vector<float> imageEmbeddings;  // [N, hidden]
  std::vector<float> firstLogits;      // [vocab] at the first generated position
  std::vector<int64_t> pixelShape, embeddingShape, logitsShape;
};

// How a prompt fits the model's context, in positions with the image counted as its tokens.
// The context is the reference's budget min(512, context - len(ids) - 1) of spec 6.1 (len counting
// the image as one id; context 2048 for CXR-LLaVA), within the KV capacity (max_position_embeddings
// of the language model); an explicit max_new_tokens caps the answer further (stop reason
// ContextFull when the context, not that number, ended it). Generation refuses a prompt that leaves less room
// than minimumAnswer with ModelError(refusal()), before any compute: an answer cut off after a
// few tokens (or an empty one, as the reference gives) would look like a real one.
inline constexpr int kMinAnswerTokens = 16;
struct ContextBudget {
  int promptTokens = 0;   // the prompt: system prompt, conversation so far, question, image
  int contextTokens = 0;  // what the context holds for this prompt
  int minimumAnswer = 0;  // kMinAnswerTokens, or max_new_tokens when that was set smaller
  int room() const { return contextTokens - promptTokens; }
  bool fits() const { return room() >= minimumAnswer; }
  // "The question is N tokens ...; the model's context holds M ... Shorten it or start a new
  // conversation."
  std::string refusal() const;
};

// ---- The model ------------------------------------------------------------------------------

class Model {
 public:
  // Validates the folder completely before touching any weight and reports every problem at once.
  static std::unique_ptr<Model> load(const std::string& folder, const LoadOptions& options = {},
                                     const LoadProgress& progress = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelInfo& info() const;
  double loadSeconds() const;

  // Preprocess (Pillow-identical) + vision tower + projector. Throws Cancelled if progress says so.
  std::shared_ptr<const EncodedImage> encodeImage(const ImageInput& image,
                                                  const PhaseProgress& progress = {});
  // Preprocessing only (no model compute): used by the GUI preview and by tests.
  PreprocessInfo preprocess(const ImageInput& image) const;

  // The shared prefix of the prompts on `image` with `systemPrompt` (empty: none, as Conversation
  // takes it): BOS, the system prompt and the image's rows, computed now and kept with the image
  // (LoadOptions::prefixCacheImages), so that the first prompt on it later prefills only its own
  // text. A generation on the image stores the prefix too; this is for computing it ahead of time
  // ("prepare while the user looks"). Returns the positions computed: 0 when it was kept already or
  // the cache is off. progress(Phase::Prefill, layer, layers) is called once per layer; returning
  // false throws Cancelled within one layer, and nothing is kept. Throws ModelError for a text-only
  // model or an image encoded by another model.
  int preparePrefix(const std::shared_ptr<const EncodedImage>& image, const std::string& systemPrompt,
                    const PhaseProgress& progress = {});
  // The number of images whose prefix is kept (LoadOptions::prefixCacheImages); lowering it drops
  // the least recently used at once. Throws ModelError outside 0 .. kMaxPrefixCacheImages.
  void setPrefixCacheImages(int images);
  int prefixCacheImages() const;
  int64_t prefixCacheBytes() const;  // memory the kept prefixes hold now

  // Tokenizer access for tools and tests.
  std::vector<int32_t> tokenize(const std::string& text, bool addBos) const;
  std::string detokenize(const std::vector<int32_t>& ids) const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class EncodedImage {
 public:
  ~EncodedImage();
  const PreprocessInfo& preprocessInfo() const;
  double preprocessSeconds() const;
  double visionSeconds() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }
  explicit EncodedImage(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// ---- Conversations --------------------------------------------------------------------------

struct Message {
  enum class Role { System, User, Assistant };
  Role role;
  std::string content;
};

// The stock prompts of the reference code (spec section 5.2), verbatim.
namespace prompts {
extern const char* const kSystem;        // "You are a helpful radiologist. ..."
extern const char* const kReport;        // "<image>\nWrite a radiologic report ...\n"
extern const char* const kDifferential;  // "<image>\nWhat are the possible differential diagnoses for this patient?\n"
// "<image>\n" + question: the reference's ask_question.
std::string ask(const std::string& question);
}  // namespace prompts

// The user message as a conversation holds it (spec 5.2), the one place this rule lives: in a
// conversation about an image the first user turn starts with "<image>\n" and no later turn carries
// it. Callers of Conversation pass the question (or a stock prompt, whose leading "<image>\n" is
// kept on the first turn and dropped on later ones); Conversation applies this. Without an image
// the message is returned unchanged.
std::string userTurnMessage(const std::string& question, bool firstUserTurn, bool withImage);

// Why `turns` (after an optional leading System message) cannot be a finished conversation to
// continue: they must alternate user / assistant, start with the user and end with an answer.
// Empty when they can. The one turn-order check: Conversation::restore and the assistant use it.
std::string turnOrderProblem(const std::vector<Message>& turns);

// A multi-turn chat about (at most) one image. Keeps the KV cache between turns: a follow-up
// question processes only its own new tokens. Not thread-safe; one owner thread at a time.
class Conversation {
 public:
  explicit Conversation(Model& model, std::string systemPrompt = prompts::kSystem);
  ~Conversation();
  Conversation(const Conversation&) = delete;
  Conversation& operator=(const Conversation&) = delete;

  // Attach the image. Must happen before the first turn (the first user turn carries <image>).
  void setImage(std::shared_ptr<const EncodedImage> image);
  const std::shared_ptr<const EncodedImage>& image() const;

  // Appends the user message (the question only: userTurnMessage() puts "<image>\n" on the first
  // turn; any other text in it, "<s>" or "</s>" included, is literal text, never a control
  // token), generates the assistant answer, appends it, and keeps the cache. On
  // cancellation the partial answer is kept as the assistant turn and the conversation stays usable
  // (cancelled during the prefill: an empty assistant turn, so popLastExchange() works the same).
  // A follow-up re-renders the whole chat, tokenizes it and processes only the ids after the longest
  // prefix already in the cache (Timings::prefillPositions says how many); a first turn on an image
  // whose shared prefix the model keeps (Model::preparePrefix) starts after that prefix. Errors (ModelError)
  // leave the conversation as it was before the call; among them a turn that does not fit the
  // context (ContextBudget::refusal(): the conversation stays usable, popLastExchange() or reset()
  // makes room).
  GenerationResult send(const std::string& userMessage, const SamplingParams& sampling = {},
                        const TokenCallback& onToken = {}, const PhaseProgress& progress = {},
                        DebugCapture* debug = nullptr);

  // Continues a conversation stored earlier (e.g. reopened from history): replaces every turn after
  // the system prompt with `turns` (user, assistant, user, assistant, ...; ending with an assistant
  // answer, so that the next send() asks the next question). A leading System message in `turns`
  // replaces the system prompt. Nothing is computed here: the cache is emptied, and the next send()
  // prefills the whole rendered conversation, giving the same prompt ids (and, greedy, the same
  // answer) as the live conversation had, provided the assistant texts are exactly what the model
  // wrote (GenerationResult::text). User turns go through userTurnMessage() as in send() (stored
  // messages with or without the tag give the same conversation). A first user message carrying
  // "<image>" needs the image: call setImage() first. Throws ModelError (conversation unchanged) on
  // bad turns (turnOrderProblem()).
  void restore(const std::vector<Message>& turns);

  // Drops the last user+assistant exchange (and the cache positions they used) so it can be
  // regenerated or edited and resent. Returns the dropped user message.
  std::string popLastExchange();
  // Forget everything after the system prompt (keeps the image and its encoding).
  void reset();

  // The prompt ids send(userMessage) would use (-200 = the image), and how they fit the context
  // (image counted with the model's image_tokens). Nothing is computed or changed. Throws
  // ModelError as send() does for a message that cannot follow the conversation.
  std::vector<int32_t> promptIdsWith(const std::string& userMessage) const;
  ContextBudget contextBudgetWith(const std::string& userMessage, const SamplingParams& sampling = {}) const;

  const std::vector<Message>& messages() const;  // system first
  std::string renderedPrompt() const;            // chat template text of the conversation so far
  int cachedPositions() const;                   // positions currently held in the KV cache

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Low-level generation from raw prompt ids (-200 = the image), used by `cxr-llava --prompt-ids`,
// by text-only models (`generate`) and by the golden tests. No conversation state is kept.
GenerationResult generateFromIds(Model& model, const std::vector<int32_t>& promptIds,
                                 const std::shared_ptr<const EncodedImage>& image,
                                 const SamplingParams& sampling = {},
                                 const TokenCallback& onToken = {},
                                 const PhaseProgress& progress = {}, DebugCapture* debug = nullptr);

// Model folder discovery used by the CLI and the GUI: $CXR_LLAVA_MODEL, else the Hugging Face cache
// snapshot of ECOFRI/CXR-LLAVA-v2 under $HF_HUB_CACHE / $HF_HOME/hub / ~/.cache/huggingface/hub.
// Returns nullopt when nothing is found; howToGetModel() explains what to do then.
std::optional<std::string> discoverModelFolder();
std::string howToGetModel();

}  // namespace cxr

namespace cxr {
// Figures about the compute backend for benchmarks (bench_engine, `cxr-llava bench`): whether
// oneDNN is built and enabled, fp32 vs bf16 linear speed on the decode shape (1x4096 @ 4096x4096)
// and the prefill shape (128x4096 @ 4096x4096), and the read bandwidth of a fresh buffer (streaming
// sum over 2 GiB, best of 5; the bound of an actual decode step is readDecoderWeights below, taken
// at the same moment). Takes a few seconds and 2 GiB; sets the intra-op thread count.
struct KernelReport {
  bool mkldnnBuilt = false, mkldnnEnabled = false;
  int threads = 0;
  double f32GemvMs = 0, bf16GemvMs = 0;          // one 1x4096 @ 4096x4096 linear
  double f32GemmGflops = 0, bf16GemmGflops = 0;  // 128x4096 @ 4096x4096
  double readBandwidthGBs = 0;                   // 1e9 bytes per second
  // Decode-shaped product over a 256 MB bf16 matrix (lm_head, 32000x4096, beyond any cache), in
  // weight bytes per second: oneDNN's at::linear vs the engine's AVX-512 BF16 gemv (0 if absent).
  double onednnGemvGBs = 0, engineGemvGBs = 0;
};
KernelReport measureKernels(int threads);

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
  explicit DecodeBoundMeter(Model& model) : model_(model) {}
  TokenCallback callback();
  struct Pair {
    double stepSeconds = 0, readSeconds = 0;
    double fraction() const { return stepSeconds > 0 ? readSeconds / stepSeconds : 0; }
  };
  const std::vector<Pair>& pairs() const { return pairs_; }
  int64_t bytesPerStep() const { return bytes_; }
  // Medians over the pairs (0 when none): the decode step, the weight read, and their ratio.
  double medianStepSeconds() const;
  double medianReadSeconds() const;
  double medianFraction() const;

 private:
  Model& model_;
  std::vector<Pair> pairs_;
  int64_t bytes_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

// Writes a checkpoint folder in the exact CXR-LLaVA v2 layout (config.json, tokenizer files copied
// from `tokenizerSource` folder, sharded safetensors + index) filled with random weights, so that
// speed and memory can be measured without the real weights. preset: "7b" (the real shapes) or
// "tiny"; dtype: "bf16", "f16" or "f32".
void writeRandomCheckpoint(const std::string& outFolder, const std::string& preset,
                           const std::string& dtype, const std::string& tokenizerSource,
                           uint64_t seed = 0, const LoadProgress& progress = {});
}  // namespace cxr
