// A plain Hugging Face LlamaForCausalLM folder (stories260K: GQA 8/4 heads, tied embeddings,
// float32) against llama2.c's golden greedy ids, for every prompt of golden.json; and the same
// model with lm_head.weight left out of the file (tied head taken from the embeddings).
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cxr/model/engine.h"
#include "support/check.h"
#include "support/engine_fixtures.h"

namespace fs = std::filesystem;
using namespace fixtures;

namespace {

void runAll(cxr::Model& model, const Json& golden, const std::string& label) {
  CHECK(model.info().kind == cxr::ModelKind::TextLlama, label + ": detected as a text-only LLaMA");
  CHECK(model.info().kvHeads == 4 && model.info().heads == 8, label + ": GQA heads read from config.json");
  for (const auto& c : golden.at("cases")) {
    const std::string name = label + "/" + c.at("name").get<std::string>();
    const auto prompt = intList(c.at("prompt_ids"));
    const auto want = intList(c.at("continuation_ids"));
    cxr::SamplingParams greedy;
    greedy.temperature = 0;
    greedy.maxNewTokens = int(c.at("n_generated").get<int64_t>());
    cxr::DebugCapture dbg;
    dbg.enabled = true;
    cxr::GenerationResult r = cxr::generateFromIds(model, prompt, nullptr, greedy, {}, {}, &dbg);
    CHECK_EQ_VEC(r.tokenIds, want, name + ": greedy ids");
    std::vector<float> wantLogits;
    for (double v : numList(c.at("first_step").at("logits_torch_fp32"))) wantLogits.push_back(float(v));
    const double diff = maxAbsDiff(dbg.firstLogits, wantLogits);
    CHECK(diff <= 1e-4, name + ": first-step logits max |diff| " + std::to_string(diff));
    std::printf("  %-36s %3zu ids %s, first logits max|diff| %.1e\n", name.c_str(), r.tokenIds.size(),
                r.tokenIds == want ? "identical" : "DIFFERENT", diff);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string shared = check::sharedData(argc, argv);
  const fs::path folder = fs::path(shared) / "stories260k-hf";
  if (shared.empty() || !fs::exists(folder / "golden.json")) {
    std::printf("shared data absent (%s): skipped\n", folder.c_str());
    return 0;
  }
  const Json golden = readJson(folder / "golden.json");
  cxr::LoadOptions opt;
  opt.dtype = "f32";
  opt.threads = 1;
  {
    auto model = cxr::Model::load(folder.string(), opt);
    runAll(*model, golden, "stories260K");
  }
  {
    // Tied head, lm_head.weight absent (how real tied HF checkpoints are stored).
    TempDir tmp;
    copyFolder(folder, tmp.path);
    Safetensors st = Safetensors::read(tmp.path / "model.safetensors");
    auto entries = headerEntries(st.header);
    std::vector<HeaderEntry> kept;
    for (const auto& e : entries)
      if (e.name != "lm_head.weight") kept.push_back(e);
    CHECK(kept.size() + 1 == entries.size(), "lm_head.weight was in the file");
    st.header = headerJson(kept);
    st.write(tmp.path / "model.safetensors");
    auto model = cxr::Model::load(tmp.path.string(), opt);
    runAll(*model, golden, "stories260K-without-lm_head");
  }
  return check::finish("test_engine_stories");
}
