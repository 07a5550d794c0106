// The engine's value types, errors and callbacks: what a client passes to and gets back from
// cxr::Model and cxr::Conversation (engine.h), and what the engine's own sources include. No torch,
// Qt or sentencepiece type appears here.
//
// Errors: every function that can fail throws cxr::ModelError whose what() is a complete,
// user-facing sentence naming the file / tensor / key and the problem (e.g.
// "model-00002-of-00003.safetensors: tensor 'lm_head.weight' has shape [32000, 512], expected
// [32000, 4096]"). Cancellation is not an error: it is reported through StopReason::Cancelled or
// LoadCancelled.
#pragma once

#include <cstdint>
#include <functional>
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
  // The LLaMA decoder's linear weights and lm_head: "bf16" (as stored, the reference's precision),
  // "int8" (blocks of 32 with one scale, ~1.9x less memory), "int4" (blocks of 32 with scale and
  // minimum, ~3.2x less), or "auto": bf16 unless this machine's available memory cannot hold the
  // bf16 weights plus 1.5 GiB, then int8 (ModelInfo::weightsReason says so). The vision tower,
  // projector, embeddings and norms stay as stored. int8/int4 are made from the safetensors on first
  // use (minutes for a 7B model, shown by the load progress) and kept in the user's cache folder
  // ($XDG_CACHE_HOME/cxr-assistant/quantized). CPU only.
  std::string weights = "auto";
};

// Empty when `weights` is an accepted LoadOptions::weights value (bf16, int8, int4, auto), else a
// sentence naming the value and the choices.
std::string checkWeightsChoice(const std::string& weights);

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
  // The decoder weights in use: "bf16" (as stored, in the compute dtype), "int8" or "int4".
  std::string weights = "bf16";
  // Why LoadOptions::weights "auto" chose int8 (empty when it chose bf16 or the weights were asked
  // for by name), e.g. "int8: 9.8 GiB of memory available, the bf16 weights need 13.1 GiB + 1.5 GiB".
  std::string weightsReason;
  std::string weightsCache;        // the quantized weights file in use (empty for bf16)
  std::string weightsCacheNotice;  // non-empty when this load made that file (first use, or it was damaged)
  // The instruction-set level the engine's CPU kernels run at: "avx512" (AVX-512 BF16) or "avx2"
  // (AVX2 + FMA + F16C; bf16 matrix products in fp32 compute). CXR_CPU_LEVEL=avx2 lowers it.
  std::string cpuLevel;
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

// Work the user waits for (Foreground), or work done ahead of time (Background: "prepare the model
// while I look at an image"), which runs on a thread of its own at a lower scheduling priority (nice
// +10, its matrix products' threads included) and so yields to the GUI and the user's other programs.
enum class WorkPriority { Foreground, Background };

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

// ---- Conversations --------------------------------------------------------------------------

struct Message {
  enum class Role { System, User, Assistant };
  Role role;
  std::string content;
};

// An image that went through preprocessing + vision tower + projector (engine.h).
class EncodedImage;

}  // namespace cxr
