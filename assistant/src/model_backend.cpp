// The real backend: cxr::Model + cxr::Conversation. Kept in its own translation unit so that
// programs using only the scripted backend never pull the engine's symbols in.
#include "cxr/assistant/model_backend.h"

#include <string>

namespace cxr::assistant {
namespace {

class ModelBackend final : public EngineBackend {
 public:
  ModelInfo load(const std::string& folder, const LoadOptions& options,
                 const LoadProgress& progress) override {
    // Drop the old model first: two 7B models at once would not fit in memory.
    conversation_.reset();
    encoded_.reset();
    model_.reset();
    model_ = Model::load(folder, options, progress);
    return model_->info();
  }
  bool isLoaded() const override { return model_ != nullptr; }
  ModelInfo info() const override { return model_ ? model_->info() : ModelInfo{}; }

  PreprocessInfo preprocess(const ImageInput& image) const override {
    return requireModel().preprocess(image);
  }

  void startConversation(const ImageInput& image, const std::string& identity,
                         const PhaseProgress& progress) override {
    Model& model = requireModel();
    encode(image, identity, progress);
    // A new conversation on the same image reuses the encoding (engine.h promises no re-encode).
    conversation_ = std::make_unique<Conversation>(model);
    conversation_->setImage(encoded_);
  }
  bool hasConversation() const override { return conversation_ != nullptr; }

  GenerationResult send(const std::string& userMessage, const SamplingParams& sampling,
                        const TokenCallback& onToken, const PhaseProgress& progress) override {
    return requireConversation().send(userMessage, sampling, onToken, progress);
  }
  std::string popLastExchange() override { return requireConversation().popLastExchange(); }
  void reset() override { requireConversation().reset(); }
  void restore(const std::vector<Message>& turns) override { requireConversation().restore(turns); }
  int cachedPositions() const override {
    return conversation_ ? conversation_->cachedPositions() : 0;
  }
  Model* loadedModel() override { return model_.get(); }
  bool prepare(const ImageInput& image, const std::string& identity, const PhaseProgress& progress) override {
    Model& model = requireModel();
    encode(image, identity, progress, WorkPriority::Background);  // ahead of time: both at low priority
    model.preparePrefix(encoded_, prompts::kSystem, progress);     // the system prompt startConversation uses
    return model.prefixCacheImages() > 0;
  }

 private:
  // Encodes `image` unless it is the one encoded last (equal identity; see EngineBackend). A
  // conversation on another image ends.
  void encode(const ImageInput& image, const std::string& identity, const PhaseProgress& progress,
              WorkPriority priority = WorkPriority::Foreground) {
    if (encoded_ && identity == encodedIdentity_) return;
    conversation_.reset();
    encoded_.reset();
    encodedIdentity_.clear();
    encoded_ = requireModel().encodeImage(image, progress, priority);
    encodedIdentity_ = identity;
  }
  Model& requireModel() const {
    if (!model_) throw ModelError("no model is loaded: choose a CXR-LLaVA model folder first");
    return *model_;
  }
  Conversation& requireConversation() {
    if (!conversation_) throw ModelError("no conversation: open an image first");
    return *conversation_;
  }

  std::unique_ptr<Model> model_;
  std::shared_ptr<const EncodedImage> encoded_;
  std::string encodedIdentity_;
  std::unique_ptr<Conversation> conversation_;
};

}  // namespace

std::unique_ptr<EngineBackend> createModelBackend() { return std::make_unique<ModelBackend>(); }

}  // namespace cxr::assistant
