// The real backend: cxr::Model + cxr::Conversation. Kept in its own translation unit so that
// programs using only the scripted backend never pull the engine's symbols in.
#include "cxr/assistant/model_backend.h"

#include <functional>
#include <string_view>

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

  void startConversation(const ImageInput& image, const PhaseProgress& progress) override {
    Model& model = requireModel();
    encode(image, progress);
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
  bool prepare(const ImageInput& image, const PhaseProgress& progress) override {
    Model& model = requireModel();
    encode(image, progress);
    model.preparePrefix(encoded_, prompts::kSystem, progress);  // the system prompt startConversation uses
    return model.prefixCacheImages() > 0;
  }

 private:
  // Encodes `image` unless it is the one encoded last (a conversation on another image ends).
  void encode(const ImageInput& image, const PhaseProgress& progress) {
    const size_t key = imageKey(image);
    if (encoded_ && key == encodedKey_) return;
    conversation_.reset();
    encoded_.reset();
    encoded_ = requireModel().encodeImage(image, progress);
    encodedKey_ = key;
  }
  static size_t imageKey(const ImageInput& image) {
    const size_t bytes = std::hash<std::string_view>{}(std::string_view(
        reinterpret_cast<const char*>(image.pixels.data()), image.pixels.size()));
    return bytes ^ (size_t(image.width) << 20) ^ (size_t(image.height) << 40) ^ size_t(image.channels);
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
  size_t encodedKey_ = 0;
  std::unique_ptr<Conversation> conversation_;
};

}  // namespace

std::unique_ptr<EngineBackend> createModelBackend() { return std::make_unique<ModelBackend>(); }

}  // namespace cxr::assistant
