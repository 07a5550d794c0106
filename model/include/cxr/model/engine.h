// The public face of the CXR-LLaVA engine, as narrow as llama.cpp's mtmd.h: load a model, encode
// an image, hold a conversation.
//
// This header (with types.h, its value types and errors) is the whole contract between model/ and
// its clients (the cxr-llava command-line tool, the assistant's worker thread, tests). It mentions
// no torch, Qt or sentencepiece type: clients compile fast and never meet libtorch's macros.
// Everything heavy sits behind the pimpl pointers, which only the engine's sources reach
// (detail::Access in model/src/core/engine_internal.h). Benchmark and tooling functions are in
// tools.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cxr/model/types.h"

namespace cxr {

namespace detail {
struct Access;  // the engine's own sources reach the pimpls through it (engine_internal.h)
}

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
  // WorkPriority::Background: at low priority, for an image encoded ahead of time (the same result).
  std::shared_ptr<const EncodedImage> encodeImage(const ImageInput& image, const PhaseProgress& progress = {},
                                                  WorkPriority priority = WorkPriority::Foreground);
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

 private:
  friend struct detail::Access;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An image that went through preprocessing + vision tower + projector. Shared, immutable and
// reusable: a new conversation on the same image does not encode it again.
class EncodedImage {
 public:
  ~EncodedImage();
  const PreprocessInfo& preprocessInfo() const;
  double preprocessSeconds() const;
  double visionSeconds() const;
  struct Impl;
  explicit EncodedImage(std::unique_ptr<Impl> impl);

 private:
  friend struct detail::Access;
  std::unique_ptr<Impl> impl_;
};

// ---- Conversations --------------------------------------------------------------------------

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
