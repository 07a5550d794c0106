// A deterministic stand-in for the engine: scripted answers streamed token by token, with a
// controllable delay for every unit of work (load step, vision layer, prefill layer, decode step).
// It calls the progress/token callbacks exactly where the real engine does, so Stop, streaming
// order and GUI responsiveness can be tested without weights. Also handy for UI demos.
#pragma once

#include "cxr/assistant/engine_backend.h"

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace cxr::assistant {

struct BackendScript {
  // Answers given in turn (the n-th send gets answers[n % size]). Split into tokens at spaces,
  // each token keeps its leading space except the first.
  std::vector<std::string> answers = {
      "No focal consolidation. Heart size is normal. No pleural effusion or pneumothorax."};
  int loadSteps = 4;
  int visionLayers = 4;
  int prefillLayers = 4;
  int imageTokens = 16;  // positions the image takes in the cache
  std::chrono::milliseconds loadStepDelay{5};
  std::chrono::milliseconds visionLayerDelay{5};
  std::chrono::milliseconds prefillLayerDelay{5};
  std::chrono::milliseconds tokenDelay{5};
  std::string failLoadWith;   // non-empty: load() throws ModelError with this text
  std::string failSendWith;   // non-empty: send() throws ModelError with this text
  // Non-empty: a user message containing it is refused (ModelError, nothing kept), as the engine
  // refuses a turn that does not fit the context.
  std::string refuseSendContaining;
};

class ScriptedBackend : public EngineBackend {
 public:
  explicit ScriptedBackend(BackendScript script = {});

  ModelInfo load(const std::string& folder, const LoadOptions& options,
                 const LoadProgress& progress) override;
  bool isLoaded() const override { return loaded_; }
  ModelInfo info() const override { return info_; }
  PreprocessInfo preprocess(const ImageInput& image) const override;
  void startConversation(const ImageInput& image, const std::string& identity, const PhaseProgress& progress) override;
  bool hasConversation() const override { return hasConversation_; }
  GenerationResult send(const std::string& userMessage, const SamplingParams& sampling,
                        const TokenCallback& onToken, const PhaseProgress& progress) override;
  std::string popLastExchange() override;
  void reset() override;
  // Like the engine: checks alternation, keeps the turns, caches nothing until the next send(),
  // which then counts the whole restored conversation as its prefill.
  void restore(const std::vector<Message>& turns) override;
  int cachedPositions() const override;

  // Counters for tests (read after the worker is idle).
  int encodeCount() const { return encodeCount_; }
  int sendCount() const { return sendCount_; }
  int restoreCount() const { return restoreCount_; }
  std::vector<std::string> userMessages() const;

 private:
  static int pseudoTokenCount(const std::string& text);

  BackendScript script_;
  ModelInfo info_;
  bool loaded_ = false;
  bool hasConversation_ = false;
  std::string imageIdentity_;  // of the image encoded last
  int encodeCount_ = 0;
  int sendCount_ = 0;
  int answerCounter_ = 0;
  int restoreCount_ = 0;
  struct Turn {
    std::string user, assistant;
    int positions = 0;
  };
  std::vector<Turn> turns_;
};

}  // namespace cxr::assistant
