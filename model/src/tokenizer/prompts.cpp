// The stock prompts of the reference code (spec section 5.2), verbatim, and model discovery.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "cxr/model/engine.h"

namespace fs = std::filesystem;

namespace cxr {

namespace prompts {
const char* const kSystem =
    "You are a helpful radiologist. Try to interpret chest x ray image and answer to the question "
    "that user provides.";
const char* const kReport =
    "<image>\nWrite a radiologic report on the given chest radiograph, including information about "
    "atelectasis, cardiomegaly, consolidation, pulmonary edema, pleural effusion, and pneumothorax.\n";
const char* const kDifferential =
    "<image>\nWhat are the possible differential diagnoses for this patient?\n";
std::string ask(const std::string& question) { return "<image>\n" + question; }
}  // namespace prompts

std::string userTurnMessage(const std::string& question, bool firstUserTurn, bool withImage) {
  static const std::string kTag = "<image>\n";
  if (!withImage) return question;
  const bool tagged = question.compare(0, kTag.size(), kTag) == 0;
  if (firstUserTurn) return tagged ? question : kTag + question;
  return tagged ? question.substr(kTag.size()) : question;
}

std::string turnOrderProblem(const std::vector<Message>& turns) {
  const size_t first = !turns.empty() && turns[0].role == Message::Role::System ? 1 : 0;
  for (size_t i = first; i < turns.size(); ++i) {
    const bool userExpected = (i - first) % 2 == 0;
    if ((turns[i].role == Message::Role::User) != userExpected || turns[i].role == Message::Role::System)
      return "turn " + std::to_string(i + 1) + " should be " + (userExpected ? "a user message" : "an assistant answer") +
             " (turns alternate user/assistant, starting with the user)";
  }
  if ((turns.size() - first) % 2 != 0)
    return "it ends with a user message without an answer; restore the answered turns and send() the last "
           "question again";
  return {};
}

namespace {

constexpr const char* kRepoFolder = "models--ECOFRI--CXR-LLAVA-v2";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// The hub cache folders huggingface_hub would use, in its order of precedence.
std::vector<fs::path> hubCaches() {
  std::vector<fs::path> caches;
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) caches.emplace_back(v);
  if (auto v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) caches.emplace_back(v);
  if (auto v = env("HF_HOME"); !v.empty()) caches.emplace_back(fs::path(v) / "hub");
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) caches.emplace_back(fs::path(v) / "huggingface" / "hub");
  if (auto v = env("HOME"); !v.empty()) caches.emplace_back(fs::path(v) / ".cache" / "huggingface" / "hub");
  return caches;
}

bool isModelFolder(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "config.json", ec);
}

}  // namespace

std::optional<std::string> discoverModelFolder() {
  if (auto v = env("CXR_LLAVA_MODEL"); !v.empty()) return v;  // explicit: let load() report problems
  for (const fs::path& cache : hubCaches()) {
    const fs::path repo = cache / kRepoFolder;
    std::error_code ec;
    if (!fs::is_directory(repo / "snapshots", ec)) continue;
    // refs/main names the snapshot the last download resolved "main" to.
    std::ifstream ref(repo / "refs" / "main");
    std::string revision;
    if (ref && std::getline(ref, revision)) {
      const fs::path snapshot = repo / "snapshots" / revision;
      if (isModelFolder(snapshot)) return snapshot.string();
    }
    for (const auto& entry : fs::directory_iterator(repo / "snapshots", ec))
      if (isModelFolder(entry.path())) return entry.path().string();
  }
  return std::nullopt;
}

std::string howToGetModel() {
  return "No CXR-LLaVA model folder was found. Download the checkpoint (about 14 GB) with\n"
         "  huggingface-cli download ECOFRI/CXR-LLAVA-v2\n"
         "(it lands in ~/.cache/huggingface/hub, where it is found automatically), or point to a\n"
         "folder holding config.json, the model-*.safetensors shards and tokenizer.model with\n"
         "--model DIR or the environment variable CXR_LLAVA_MODEL.";
}

}  // namespace cxr
