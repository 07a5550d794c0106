// The engine against the golden CXR-LLaVA references (tests/data/model/golden-cxrllava, copied from
// shared/data/golden-cxrllava): for every case of grid32 and tiny64 (report, ask, short, resize)
//  - float32: image embeddings (rows 0, 1, N-1 within 1e-3; summary sums within 1e-4 relative),
//    first-step logits (all 32000 within 1e-3 absolute), and the 16 greedy ids identical;
//  - bf16 (report cases): first-step argmax equal and max |logit diff| of the order the bf16
//    emulation reports.
// The core is fed the exact 8-bit crop (crop_uint8.png) and the reference prompt ids; one
// end-to-end check per model goes from the source image through preprocessing, the chat
// template and the tokenizer.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cxr/model/engine.h"
#include "support/check.h"
#include "support/engine_fixtures.h"

namespace fs = std::filesystem;
using namespace fixtures;

namespace {

std::string stem(const std::string& image) { return image.substr(0, image.rfind('.')); }

// |got - want| <= tol * max(|want|, floor): sums near zero are compared against the size of the
// numbers summed (floor = abs_sum * 1e-3) instead of their accidental small total.
bool closeRel(double got, double want, double tol, double floor) {
  return std::fabs(got - want) <= tol * std::max(std::fabs(want), floor);
}

void checkSummary(const std::string& what, const std::vector<float>& got, const Json& ref) {
  Summary s = summarize(got);
  const double absSum = ref.at("abs_sum").get<double>();
  const double floor = absSum * 1e-3;
  const struct { const char* key; double value; } stats[] = {
      {"sum", s.sum}, {"abs_sum", s.absSum}, {"sq_sum", s.sqSum}, {"weighted", s.weighted}};
  for (const auto& st : stats) {
    const double want = ref.at(st.key).get<double>();
    CHECK(closeRel(st.value, want, 1e-4, floor),
          what + " " + st.key + " = " + std::to_string(st.value) + ", reference " + std::to_string(want));
  }
}

cxr::SamplingParams greedy(int steps) {
  cxr::SamplingParams p;
  p.temperature = 0;
  p.maxNewTokens = steps;
  p.seed = 0;
  return p;
}

void runCase(cxr::Model& model, const fs::path& folder, const std::string& caseName) {
  const Json ref = readJson(folder / "reference.json");
  const std::vector<int32_t> ids = intList(ref.at("prompt").at("ids"));
  for (const auto& c : ref.at("cases")) {
    const std::string image = c.at("image").get<std::string>();
    const std::string label = caseName + "/" + image;
    cxr::ImageInput crop = loadGrayPng(folder / (stem(image) + ".crop_uint8.png"));
    CHECK(!crop.pixels.empty(), label + ": crop PNG readable");
    if (crop.pixels.empty()) continue;

    auto encoded = model.encodeImage(crop);
    cxr::DebugCapture dbg;
    dbg.enabled = true;
    const Json& greedyRef = c.at("greedy_ids");
    const auto wantIds = intList(greedyRef);
    cxr::GenerationResult r = cxr::generateFromIds(model, ids, encoded, greedy(int(wantIds.size())), {}, {}, &dbg);

    // pixel values and embeddings
    checkSummary(label + " pixel_values", dbg.pixelValues, c.at("pixel_values"));
    const Json& embRef = c.at("image_embeddings");
    const auto shape = intList(embRef.at("shape"));
    CHECK(dbg.embeddingShape == std::vector<int64_t>({shape[0], shape[1]}),
          label + ": embedding shape " + check::show(dbg.embeddingShape));
    if (dbg.embeddingShape.size() == 2 && dbg.embeddingShape[1] == shape[1]) {
      const int64_t hidden = shape[1];
      double worstRow = 0;
      for (const auto& [row, values] : embRef.at("rows").items()) {
        const auto want = numList(values);
        const int64_t r0 = std::stoll(row);
        for (int64_t j = 0; j < hidden; ++j)
          worstRow = std::max(worstRow, std::fabs(double(dbg.imageEmbeddings[size_t(r0 * hidden + j)]) - want[size_t(j)]));
      }
      CHECK(worstRow <= 1e-3, label + ": image embedding rows max |diff| " + std::to_string(worstRow));
      checkSummary(label + " image_embeddings", dbg.imageEmbeddings, embRef);
      std::printf("  %-40s embeddings rows max|diff| %.2e\n", label.c_str(), worstRow);
    }

    // first-step logits: the whole vector
    const Json& logitRef = c.at("first_step_logits");
    const auto wantLogits = readF32(folder / logitRef.at("full_vector_file").get<std::string>());
    const double logitDiff = maxAbsDiff(dbg.firstLogits, wantLogits);
    CHECK(logitDiff <= 1e-3, label + ": first-step logits max |diff| " + std::to_string(logitDiff));
    checkSummary(label + " first_step_logits", dbg.firstLogits, logitRef);

    // greedy ids, all steps (the references never meet EOS)
    CHECK_EQ_VEC(r.tokenIds, wantIds, label + ": greedy ids");
    CHECK(r.stopReason == cxr::StopReason::MaxNewTokens, label + ": stop reason " + cxr::toString(r.stopReason));
    CHECK(r.timings.prefillPositions == int(ids.size()) - 1 + int(shape[0]),
          label + ": prefill positions " + std::to_string(r.timings.prefillPositions));
    std::printf("  %-40s fp32 logits max|diff| %.2e, greedy %s\n", label.c_str(), logitDiff,
                r.tokenIds == wantIds ? "identical" : "DIFFERENT");
  }
}

void runBf16(cxr::Model& model, const fs::path& folder, const std::string& caseName) {
  const Json ref = readJson(folder / "reference.json");
  const std::vector<int32_t> ids = intList(ref.at("prompt").at("ids"));
  for (const auto& c : ref.at("cases")) {
    if (!c.contains("bf16_emulation")) continue;
    const Json& emu = c.at("bf16_emulation");
    const std::string image = c.at("image").get<std::string>();
    const std::string label = caseName + "/" + image + " bf16";
    auto encoded = model.encodeImage(loadGrayPng(folder / (stem(image) + ".crop_uint8.png")));
    cxr::DebugCapture dbg;
    dbg.enabled = true;
    cxr::GenerationResult r = cxr::generateFromIds(model, ids, encoded, greedy(1), {}, {}, &dbg);
    const auto wantLogits = readF32(folder / c.at("first_step_logits").at("full_vector_file").get<std::string>());
    const double diff = maxAbsDiff(dbg.firstLogits, wantLogits);
    const double emulated = emu.at("first_step_logits_max_abs_diff_vs_fp32").get<double>();
    const int32_t wantArgmax = int32_t(emu.at("first_step_argmax").get<int64_t>());
    CHECK(!r.tokenIds.empty() && r.tokenIds[0] == wantArgmax,
          label + ": first-step argmax " + (r.tokenIds.empty() ? "none" : std::to_string(r.tokenIds[0])) +
              ", reference " + std::to_string(wantArgmax));
    // "of the same order as bf16_emulation reports (well under 0.5)"
    CHECK(diff < 0.5 && diff <= 4 * emulated,
          label + ": max |logit diff| vs fp32 " + std::to_string(diff) + ", emulation " + std::to_string(emulated));
    std::printf("  %-40s max|logit diff| vs fp32 %.4f (reference bf16 emulation %.4f)\n", label.c_str(), diff, emulated);
  }
}

// From the source image: preprocessing, chat template and tokenizer, then the same numbers.
void runEndToEnd(cxr::Model& model, const fs::path& goldenModel, const fs::path& sourceImage) {
  const Json ref = readJson(goldenModel / "report" / "reference.json");
  const Json& c = ref.at("cases")[0];
  cxr::ImageInput img = loadGrayPng(sourceImage);
  CHECK(!img.pixels.empty(), "source image readable: " + sourceImage.string());
  if (img.pixels.empty()) return;
  auto encoded = model.encodeImage(img);
  cxr::Conversation conv(model);
  conv.setImage(encoded);
  cxr::DebugCapture dbg;
  dbg.enabled = true;
  const auto wantIds = intList(c.at("greedy_ids"));
  cxr::GenerationResult r = conv.send(cxr::prompts::kReport, greedy(int(wantIds.size())), {}, {}, &dbg);
  CHECK_EQ_VEC(r.promptIds, intList(ref.at("prompt").at("ids")), "end-to-end prompt ids");
  const auto wantLogits = readF32(goldenModel / "report" / c.at("first_step_logits").at("full_vector_file").get<std::string>());
  const double diff = maxAbsDiff(dbg.firstLogits, wantLogits);
  CHECK(diff <= 1e-3, "end-to-end first-step logits max |diff| " + std::to_string(diff));
  CHECK_EQ_VEC(r.tokenIds, wantIds, "end-to-end greedy ids");
  std::printf("  end-to-end from %s: logits max|diff| %.2e\n", sourceImage.filename().c_str(), diff);
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path golden = fs::path(check::testData(argc, argv)) / "model" / "golden-cxrllava";
  const std::string shared = check::sharedData(argc, argv);
  for (const char* name : {"grid32", "tiny64"}) {
    const fs::path root = golden / name;
    cxr::LoadOptions opt;
    opt.dtype = "f32";
    opt.threads = 2;
    std::printf("%s float32\n", name);
    auto model = cxr::Model::load((root / "checkpoint").string(), opt);
    const Json anyRef = readJson(root / "report" / "reference.json");
    CHECK(model->info().configSha256 == anyRef.at("checkpoint").at("config_sha256").get<std::string>(),
          std::string(name) + ": ModelInfo.configSha256 = the reference's config sha256");
    CHECK(model->info().storedDtype == "BF16" && model->info().dtype == "f32" && model->info().tokenizerLegacy,
          std::string(name) + ": stored BF16, compute f32, legacy tokenizer");
    for (const char* c : {"report", "ask", "short", "resize"})
      if (fs::exists(root / c)) runCase(*model, root / c, std::string(name) + "/" + c);
    const fs::path source = fs::path(shared) / "cxr" / "nih_cxr14_00000001_000.png";
    if (!shared.empty() && fs::exists(source)) runEndToEnd(*model, root, source);
    else std::printf("  (shared data absent: end-to-end check skipped)\n");

    opt.dtype = "bf16";
    auto bf16 = cxr::Model::load((root / "checkpoint").string(), opt);
    runBf16(*bf16, root / "report", std::string(name) + "/report");
  }
  return check::finish("test_engine_golden");
}
