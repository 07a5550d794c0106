#include "cxr/assistant/scripted_backend.h"

#include <algorithm>
#include <functional>
#include <sstream>
#include <string_view>
#include <thread>

namespace cxr::assistant {

const char* stopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::EndOfSequence: return "end of answer";
    case StopReason::MaxNewTokens: return "max new tokens reached";
    case StopReason::ContextFull: return "context full";
    case StopReason::Cancelled: return "stopped";
  }
  return "unknown";
}

void EngineBackend::restore(const std::vector<Message>&) {
  throw ModelError("this engine cannot continue a stored conversation; start a new one on the image");
}

bool EngineBackend::prepare(const ImageInput&, const std::string&, const PhaseProgress&) { return false; }

namespace {

std::vector<std::string> splitIntoTokens(const std::string& text) {
  std::vector<std::string> tokens;
  std::string current;
  for (char c : text) {
    if (c == ' ' && !current.empty()) {
      tokens.push_back(current);
      current.clear();
    }
    current += c;
  }
  if (!current.empty()) tokens.push_back(current);
  return tokens;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ScriptedBackend::ScriptedBackend(BackendScript script) : script_(std::move(script)) {}

int ScriptedBackend::pseudoTokenCount(const std::string& text) {
  // One "token" per word plus the chat template's fixed overhead; only the relative sizes matter.
  return static_cast<int>(splitIntoTokens(text).size()) + 8;
}

ModelInfo ScriptedBackend::load(const std::string& folder, const LoadOptions& options,
                                const LoadProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  loaded_ = false;
  hasConversation_ = false;
  turns_.clear();
  for (int step = 0; step < script_.loadSteps; ++step) {
    std::this_thread::sleep_for(script_.loadStepDelay);
    if (progress && !progress(double(step + 1) / script_.loadSteps,
                              "layer " + std::to_string(step + 1) + "/" +
                                  std::to_string(script_.loadSteps)))
      throw LoadCancelled();
  }
  if (!script_.failLoadWith.empty()) throw ModelError(script_.failLoadWith);
  info_ = ModelInfo{};
  info_.folder = folder;
  info_.device = options.device;
  info_.dtype = options.dtype == "auto" ? "bf16" : options.dtype;
  info_.threads = options.threads > 0 ? options.threads : 2;
  info_.storedDtype = "BF16";
  info_.parameterCount = 123456;
  info_.weightBytes = 246912;
  info_.imageSize = 64;
  info_.imageTokens = script_.imageTokens;
  info_.layers = script_.prefillLayers;
  info_.maxContext = 2048;
  info_.configSha256 = std::string(64, 'c');
  info_.weightIndexSha256 = std::string(64, 'w');
  (void)secondsSince(start);
  loaded_ = true;
  return info_;
}

PreprocessInfo ScriptedBackend::preprocess(const ImageInput& image) const {
  if (!loaded_) throw ModelError("no model is loaded: load a model folder first");
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != size_t(image.width) * image.height * image.channels)
    throw ModelError("the image buffer does not match its width, height and channels");
  // Shortest edge to imageSize (nearest neighbour: this is a fake), then center crop.
  const int size = info_.imageSize;
  PreprocessInfo out;
  const bool wide = image.width >= image.height;
  out.resizedWidth = wide ? int(int64_t(size) * image.width / image.height) : size;
  out.resizedHeight = wide ? size : int(int64_t(size) * image.height / image.width);
  out.cropLeft = (out.resizedWidth - size) / 2;
  out.cropTop = (out.resizedHeight - size) / 2;
  out.cropSize = size;
  out.crop.resize(size_t(size) * size);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const int sx = std::min(image.width - 1, (x + out.cropLeft) * image.width / out.resizedWidth);
      const int sy = std::min(image.height - 1, (y + out.cropTop) * image.height / out.resizedHeight);
      out.crop[size_t(y) * size + x] =
          image.pixels[(size_t(sy) * image.width + sx) * image.channels];
    }
  return out;
}

void ScriptedBackend::startConversation(const ImageInput&, const std::string& identity,
                                        const PhaseProgress& progress) {
  if (!loaded_) throw ModelError("no model is loaded: load a model folder first");
  if (!hasConversation_ || identity != imageIdentity_) {
    hasConversation_ = false;
    if (progress && !progress(Phase::Preprocess, 0, 1)) throw Cancelled();
    for (int layer = 0; layer < script_.visionLayers; ++layer) {
      std::this_thread::sleep_for(script_.visionLayerDelay);
      if (progress && !progress(Phase::Vision, layer + 1, script_.visionLayers)) throw Cancelled();
    }
    ++encodeCount_;
    imageIdentity_ = identity;
  }
  hasConversation_ = true;
  turns_.clear();
}

GenerationResult ScriptedBackend::send(const std::string& userMessage,
                                       const SamplingParams& sampling,
                                       const TokenCallback& onToken,
                                       const PhaseProgress& progress) {
  if (!hasConversation_) throw ModelError("no conversation: attach an image first");
  ++sendCount_;
  if (!script_.failSendWith.empty()) throw ModelError(script_.failSendWith);
  if (!script_.refuseSendContaining.empty() && userMessage.find(script_.refuseSendContaining) != std::string::npos)
    throw ModelError("The question is 5000 tokens (image, system prompt and conversation so far included); the "
                     "model's context holds 3070, and the answer needs room for at least 16. Shorten it or start "
                     "a new conversation.");
  GenerationResult result;
  result.sampling = sampling;
  result.seed = sampling.seed.value_or(4242);
  result.sampling.seed = result.seed;
  const auto start = std::chrono::steady_clock::now();

  Turn turn;
  turn.user = userTurnMessage(userMessage, turns_.empty(), /*withImage=*/true);  // as the engine holds it
  // The first turn carries the system prompt and the image; follow-ups only their own tokens.
  turn.positions = pseudoTokenCount(userMessage) + (turns_.empty() ? script_.imageTokens + 40 : 0);
  if (!turns_.empty() && cachedPositions() == 0) {  // restored turns: the whole conversation is processed now
    turn.positions += script_.imageTokens + 40;
    for (const Turn& t : turns_) turn.positions += pseudoTokenCount(t.user) + pseudoTokenCount(t.assistant);
  }
  for (int layer = 0; layer < script_.prefillLayers; ++layer) {
    std::this_thread::sleep_for(script_.prefillLayerDelay);
    if (progress && !progress(Phase::Prefill, layer + 1, script_.prefillLayers)) {
      result.stopReason = StopReason::Cancelled;
      result.timings.prefillSeconds = secondsSince(start);
      turns_.push_back(turn);  // like the engine: the (empty) partial answer is kept
      return result;
    }
  }
  result.timings.prefillSeconds = secondsSince(start);
  result.timings.prefillPositions = turn.positions;

  const auto tokens = splitIntoTokens(script_.answers[size_t(answerCounter_++) % script_.answers.size()]);
  const int budget = sampling.maxNewTokens > 0 ? sampling.maxNewTokens : 512;
  const auto decodeStart = std::chrono::steady_clock::now();
  result.stopReason = StopReason::EndOfSequence;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (int(i) >= budget) {
      result.stopReason = StopReason::MaxNewTokens;
      break;
    }
    std::this_thread::sleep_for(script_.tokenDelay);
    result.text += tokens[i];
    result.tokenIds.push_back(int32_t(1000 + i));
    if (i == 0) result.timings.firstTokenSeconds = secondsSince(start);
    TokenEvent event{int32_t(1000 + i), int(i), tokens[i]};
    if (onToken && !onToken(event)) {
      result.stopReason = StopReason::Cancelled;
      break;
    }
  }
  result.timings.decodeSeconds = secondsSince(decodeStart);
  result.timings.decodeTokens = int(result.tokenIds.size());
  result.timings.decodeSteps = std::max(0, result.timings.decodeTokens - 1);  // as the engine counts them
  turn.assistant = result.text;
  turn.positions += int(result.tokenIds.size());
  turns_.push_back(turn);
  return result;
}

std::string ScriptedBackend::popLastExchange() {
  if (turns_.empty()) throw ModelError("there is no exchange to drop");
  std::string user = turns_.back().user;
  turns_.pop_back();
  return user;
}

void ScriptedBackend::reset() { turns_.clear(); }

void ScriptedBackend::restore(const std::vector<Message>& turns) {
  if (!hasConversation_) throw ModelError("no conversation: attach an image first");
  if (const std::string problem = turnOrderProblem(turns); !problem.empty())
    throw ModelError("cannot restore the conversation: " + problem);
  turns_.clear();
  for (size_t i = 0; i < turns.size(); i += 2)
    turns_.push_back({userTurnMessage(turns[i].content, i == 0, /*withImage=*/true), turns[i + 1].content, 0});
  ++restoreCount_;
}

int ScriptedBackend::cachedPositions() const {
  int positions = 0;
  for (const auto& turn : turns_) positions += turn.positions;
  return positions;
}

std::vector<std::string> ScriptedBackend::userMessages() const {
  std::vector<std::string> out;
  for (const auto& turn : turns_) out.push_back(turn.user);
  return out;
}

}  // namespace cxr::assistant
