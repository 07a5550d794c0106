// The engine as the assistant sees it: a narrow interface over cxr::Model + cxr::Conversation.
//
// Why an interface: the worker, the streaming logic, Stop at every stage and the GUI's
// responsiveness must be testable without real weights (and while the engine is still being
// written). ModelBackend (model_backend.h) is the real implementation; ScriptedBackend
// (scripted_backend.h) is a deterministic fake with controllable delays for tests and demos.
//
// Contract (same as engine.h): failures throw cxr::ModelError with a user-facing sentence;
// a cancelled load throws cxr::LoadCancelled, a cancelled image encoding throws cxr::Cancelled, a
// cancelled generation returns StopReason::Cancelled with the partial answer kept. Not thread-safe:
// one owner thread (the worker's) calls everything.
#pragma once

#include "cxr/model/engine.h"

#include <string>

namespace cxr::assistant {

class EngineBackend {
 public:
  virtual ~EngineBackend() = default;

  // Loads (or replaces) the model. Returns what was loaded.
  virtual ModelInfo load(const std::string& folder, const LoadOptions& options,
                         const LoadProgress& progress) = 0;
  virtual bool isLoaded() const = 0;
  virtual ModelInfo info() const = 0;

  // The exact crop the model will see (no model compute). Needs a loaded model (image size).
  virtual PreprocessInfo preprocess(const ImageInput& image) const = 0;

  // Encodes the image (unless it is the one already encoded) and starts a fresh conversation on
  // it with the stock system prompt. Throws cxr::Cancelled when progress returns false.
  // `identity` names the pixels (the file's SHA-256, frame and window: ModelImageSource::identity,
  // or one the worker made up): the image counts as the one already encoded when its identity is
  // equal, so no backend hashes pixels.
  virtual void startConversation(const ImageInput& image, const std::string& identity,
                                 const PhaseProgress& progress) = 0;
  virtual bool hasConversation() const = 0;

  // One turn: user message verbatim (the first carries "<image>\n").
  virtual GenerationResult send(const std::string& userMessage, const SamplingParams& sampling,
                                const TokenCallback& onToken, const PhaseProgress& progress) = 0;
  // Drops the last exchange (regenerate / edit and resend); returns the dropped user message.
  virtual std::string popLastExchange() = 0;
  // Forgets every turn, keeps the image and its encoding.
  virtual void reset() = 0;
  // Continues a stored conversation (reopened from history) on the current conversation's image:
  // replaces its turns with `turns` (user, assistant, ..., ending with an answer; the first user
  // message carries "<image>"). Nothing is computed now; the next send() processes the whole
  // conversation. Call after startConversation(). The default refuses with a ModelError, for
  // backends that cannot replay old turns.
  virtual void restore(const std::vector<Message>& turns);
  // Positions held in the KV cache (a follow-up only adds its own).
  virtual int cachedPositions() const = 0;
  // The loaded engine itself, for work that drives it directly on the owner thread (a dataset run:
  // its own Conversations on the same weights, no second copy of the model). Null when nothing is
  // loaded or the backend has no cxr::Model (the scripted fake).
  virtual Model* loadedModel() { return nullptr; }



  // Ahead of time ("prepare while the user looks"): encodes the image (unless it is the one
  // already encoded) and computes the shared prefix of the prompts on it (cxr::Model::preparePrefix),
  // so that the first question on it prefills only its own text. Changes no conversation. Throws
  // cxr::Cancelled when progress returns false (within one layer). Returns whether anything is
  // prepared; the default prepares nothing (backends without a prefix cache).
  virtual bool prepare(const ImageInput& image, const std::string& identity, const PhaseProgress& progress);
};

// Readable stop reason without linking the engine's toString (the fake backend needs none).
const char* stopReasonName(StopReason reason);

}  // namespace cxr::assistant
