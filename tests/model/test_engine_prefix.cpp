// The shared image prefix (issue 9): every prompt on an image starts with the same positions
// (BOS, system prompt, the image's rows); the model keeps their KV cache per encoded image.
//  - golden cases on one EncodedImage (grid32: 1,024 image rows, and tiny64; float32): the ask
//    prompt after the report prefills only its text after the image (< 100 positions) and still
//    gives the reference's first-step logits and greedy ids; the raw prompt 1,-200,13 (another
//    prefix) shares nothing;
//  - conversations in bf16, int8 and int4, as the app runs them: report, then the differential and a
//    question in new conversations: the same prompt ids and greedy answers as a model with the cache
//    off (a prompt's few positions after the prefix take other kernels than a long prefill: the
//    engine computes them apart in both cases);
//  - Model::preparePrefix: computes the prefix ahead of time, at nice +10 as encodeImage in the
//    background does; the first prompt after it is exact; cancelled within one layer, it keeps nothing;
//  - the key and the bounds: a new encoding of the same pixels, another system prompt miss; the
//    capacity bounds the memory (bytes = layers x 2 x kv heads x head dim x positions x element
//    size), least recently used first; 0 turns it off; a released image frees its entry; settings
//    outside 0..64 are refused with a sentence.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "cxr/model/engine.h"
#include "support/check.h"
#include "support/engine_fixtures.h"

namespace fs = std::filesystem;
using namespace fixtures;

namespace {

std::string errorOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const cxr::ModelError& e) {
    return e.what();
  }
  return "(no error)";
}

// The scheduling priority (nice) of the calling thread.
int threadNice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

// The positions a prompt takes, the image counted as its rows.
int positionsOf(const std::vector<int32_t>& ids, int imageRows) {
  int n = 0;
  for (int32_t id : ids) n += id == -200 ? imageRows : 1;
  return n;
}

// The golden report, ask and short cases on one encoding of the first image.
void goldenCasesOnOneImage(const fs::path& root, const std::string& name) {
  cxr::LoadOptions opt;
  opt.dtype = "f32";
  opt.threads = 2;
  auto model = cxr::Model::load((root / "checkpoint").string(), opt);
  const int rows = model->info().imageTokens;
  const Json report = readJson(root / "report" / "reference.json");
  const Json ask = readJson(root / "ask" / "reference.json");
  const Json shortCase = readJson(root / "short" / "reference.json");
  const std::string png = "nih_cxr14_00000001_000.crop_uint8.png";
  const cxr::ImageInput crop = loadGrayPng(root / "report" / png);
  CHECK(!crop.pixels.empty() && crop.pixels == loadGrayPng(root / "ask" / png).pixels,
        name + ": the report and ask cases use the same crop");
  auto image = model->encodeImage(crop);

  const auto reportIds = intList(*report.find("prompt")->find("ids"));
  const auto askIds = intList(*ask.find("prompt")->find("ids"));
  const Json& reportCase = report.find("cases")->at(0);
  const Json& askCase = ask.find("cases")->at(0);
  const auto r1 = cxr::generateFromIds(*model, reportIds, image, greedy(16));
  CHECK_EQ_VEC(r1.tokenIds, intList(*reportCase.find("greedy_ids")), name + ": report greedy ids");
  CHECK(r1.timings.reusedPrefixPositions == 0 && r1.timings.prefillPositions == positionsOf(reportIds, rows),
        name + ": the first prompt on the image prefills it all");
  CHECK(model->prefixCacheBytes() > 0, name + ": the report kept the image's prefix");

  cxr::DebugCapture dbg;
  dbg.enabled = true;
  const auto r2 = cxr::generateFromIds(*model, askIds, image, greedy(16), {}, {}, &dbg);
  const int imageAt = int(std::find(askIds.begin(), askIds.end(), -200) - askIds.begin());
  CHECK(r2.timings.reusedPrefixPositions == imageAt + rows,
        name + ": the ask reuses BOS, system prompt and image: " + std::to_string(r2.timings.reusedPrefixPositions));
  CHECK(r2.timings.prefillPositions == int(askIds.size()) - imageAt - 1 && r2.timings.prefillPositions < 100,
        name + ": the ask prefills only its text after the image: " + std::to_string(r2.timings.prefillPositions));
  const auto wantLogits = readF32(root / "ask" / askCase.find("first_step_logits")->find("full_vector_file")->get<std::string>());
  const double diff = maxAbsDiff(dbg.firstLogits, wantLogits);
  CHECK(diff <= 1e-3, name + ": ask first-step logits after the shared prefix, max |diff| " + std::to_string(diff));
  CHECK_EQ_VEC(r2.tokenIds, intList(*askCase.find("greedy_ids")), name + ": ask greedy ids after the shared prefix");
  std::printf("  %-8s ask after report: %d positions reused, %d prefilled, logits max|diff| %.2e\n", name.c_str(),
              r2.timings.reusedPrefixPositions, r2.timings.prefillPositions, diff);

  // 1,-200,13: no system prompt before the image, so not the same prefix.
  const auto shortIds = intList(*shortCase.find("prompt")->find("ids"));
  const auto r3 = cxr::generateFromIds(*model, shortIds, image, greedy(16));
  CHECK(r3.timings.reusedPrefixPositions == 0, name + ": another prefix before the image shares nothing");
  CHECK_EQ_VEC(r3.tokenIds, intList(*shortCase.find("cases")->at(0).find("greedy_ids")), name + ": short greedy ids");
}

// The same bf16 checkpoint twice (with `weights`: bf16 as stored, or int8 / int4): with the prefix
// cache off (every prompt computed from scratch, the reference's behaviour) and with the default cache.
struct ColdAndWarm {
  std::unique_ptr<cxr::Model> cold, warm;
};
ColdAndWarm coldAndWarm(const fs::path& root, const std::string& weights = "bf16") {
  const fs::path folder = root / "checkpoint";
  cxr::LoadOptions opt;
  opt.dtype = "bf16";
  opt.weights = weights;
  opt.threads = 2;
  cxr::LoadOptions off = opt;
  off.prefixCacheImages = 0;
  return {cxr::Model::load(folder.string(), off), cxr::Model::load(folder.string(), opt)};
}

struct Turn {
  std::vector<int32_t> promptIds, tokenIds;
  int prefill = 0, reused = 0;
};

// Report, then the differential and a question (with a follow-up) in new conversations on `image`.
std::vector<Turn> threeConversations(cxr::Model& model, const std::shared_ptr<const cxr::EncodedImage>& image) {
  std::vector<Turn> turns;
  auto keep = [&](const cxr::GenerationResult& r) {
    turns.push_back({r.promptIds, r.tokenIds, r.timings.prefillPositions, r.timings.reusedPrefixPositions});
  };
  const std::string firsts[] = {cxr::prompts::kReport, cxr::prompts::kDifferential, cxr::prompts::ask("Is there a pneumothorax?")};
  for (const std::string& first : firsts) {
    cxr::Conversation c(model);
    c.setImage(image);
    keep(c.send(first, greedy(12)));
    if (&first == &firsts[2]) keep(c.send("And the heart size?", greedy(8)));
  }
  return turns;
}

void conversationsAsTheAppRunsThem(const fs::path& root, const std::string& name, const std::string& weights) {
  auto [cold, warm] = coldAndWarm(root, weights);
  CHECK(warm->prefixCacheImages() == 2 && cold->prefixCacheImages() == 0, name + ": default 2 images; 0 when asked");
  const cxr::ImageInput crop = loadGrayPng(root / "report" / "nih_cxr14_00000001_000.crop_uint8.png");
  const int rows = warm->info().imageTokens;
  const auto want = threeConversations(*cold, cold->encodeImage(crop));
  const auto got = threeConversations(*warm, warm->encodeImage(crop));
  CHECK(got.size() == 4 && want.size() == 4, name + ": four turns");
  const char* labels[] = {"report", "differential", "question", "follow-up"};
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const std::string label = name + " " + weights + " " + labels[i];
    CHECK_EQ_VEC(got[i].promptIds, want[i].promptIds, label + ": the same prompt ids as with the cache off");
    CHECK_EQ_VEC(got[i].tokenIds, want[i].tokenIds, label + ": the same greedy answer as with the cache off");
    CHECK(want[i].reused == 0, label + ": nothing reused with the cache off");
  }
  if (got.size() == 4 && want.size() == 4) {
    CHECK(got[0].reused == 0 && got[0].prefill == positionsOf(got[0].promptIds, rows), name + ": the report prefills it all");
    for (size_t i : {size_t(1), size_t(2)}) {
      CHECK(got[i].reused > rows && got[i].prefill + got[i].reused == positionsOf(got[i].promptIds, rows),
            name + " " + labels[i] + ": reused " + std::to_string(got[i].reused) + " + prefilled " +
                std::to_string(got[i].prefill) + " = the prompt");
      CHECK(got[i].prefill < 100 && want[i].prefill == positionsOf(want[i].promptIds, rows),
            name + " " + labels[i] + ": second prompt on the image prefills " + std::to_string(got[i].prefill) +
                " positions (cold: " + std::to_string(want[i].prefill) + ")");
    }
    CHECK(got[3].reused == 0 && got[3].prefill == want[3].prefill, name + ": a follow-up uses its conversation's own cache");
    std::printf("  %-8s %s differential after the report: %d prefilled (cold %d); answers identical\n", name.c_str(),
                weights.c_str(), got[1].prefill, want[1].prefill);
  }
}

void prepareKeyAndBounds(const fs::path& root) {
  auto [cold, model] = coldAndWarm(root);
  const cxr::ModelInfo& info = model->info();
  const cxr::ImageInput cropA = loadGrayPng(root / "report" / "nih_cxr14_00000001_000.crop_uint8.png");
  const cxr::ImageInput cropB = loadGrayPng(root / "report" / "nih_cxr14_00027426_000.crop_uint8.png");
  auto report = [](cxr::Model& m, const std::shared_ptr<const cxr::EncodedImage>& img, const std::string& system) {
    cxr::Conversation c(m, system);
    c.setImage(img);
    return c.send(cxr::prompts::kReport, greedy(10));
  };
  const std::string system = cxr::prompts::kSystem;

  // ---- ahead of time (encoded and prepared at low priority), then the first prompt is exact and
  // prefills only its text
  const int niceHere = threadNice();
  int lowestNiceSeen = 99;  // of the threads that called progress
  auto watchNice = [&](cxr::Phase, int, int) {
    lowestNiceSeen = std::min(lowestNiceSeen, threadNice());
    return true;
  };
  auto b = model->encodeImage(cropB, watchNice, cxr::WorkPriority::Background);
  CHECK(lowestNiceSeen == std::min(19, niceHere + 10),
        "encodeImage in the background runs at nice +10: " + std::to_string(lowestNiceSeen) + " (caller " +
            std::to_string(niceHere) + ")");
  lowestNiceSeen = 99;
  const int positions = model->preparePrefix(b, system, watchNice);
  CHECK(lowestNiceSeen == std::min(19, niceHere + 10), "preparePrefix runs at nice +10: " + std::to_string(lowestNiceSeen));
  CHECK(threadNice() == niceHere, "the caller's own priority is unchanged");
  const auto coldB = report(*cold, cold->encodeImage(cropB), system);
  const int imageAt = int(std::find(coldB.promptIds.begin(), coldB.promptIds.end(), -200) - coldB.promptIds.begin());
  CHECK(positions == imageAt + info.imageTokens, "preparePrefix computes BOS, system prompt and image: " + std::to_string(positions));
  const int64_t perPosition = int64_t(info.layers) * 2 * info.kvHeads * (info.hiddenSize / info.heads) * 2;  // bf16
  CHECK(model->prefixCacheBytes() == perPosition * positions,
        "one image's prefix = layers x 2 x kv heads x head dim x positions x 2 bytes: " +
            std::to_string(model->prefixCacheBytes()));
  CHECK(model->preparePrefix(b, system) == 0, "preparing it again computes nothing");
  const auto warmB = report(*model, b, system);
  CHECK(warmB.timings.reusedPrefixPositions == positions && warmB.timings.prefillPositions < 100,
        "the report after preparePrefix prefills " + std::to_string(warmB.timings.prefillPositions) + " positions");
  CHECK_EQ_VEC(warmB.promptIds, coldB.promptIds, "prepared: the same prompt ids as cold");
  CHECK_EQ_VEC(warmB.tokenIds, coldB.tokenIds, "prepared: the same greedy answer as cold");

  // ---- cancelled within one layer: nothing kept, and no call after the refusal
  auto a = model->encodeImage(cropA);
  {
    const int64_t before = model->prefixCacheBytes();
    int callsAfterStop = 0;
    bool stopped = false, cancelled = false;
    try {
      model->preparePrefix(a, system, [&](cxr::Phase phase, int done, int) {
        if (stopped) ++callsAfterStop;
        if (phase == cxr::Phase::Prefill && done == 1) stopped = true;
        return !stopped;
      });
    } catch (const cxr::Cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled && callsAfterStop == 0, "preparePrefix cancelled at layer 1, no progress after it");
    CHECK(model->prefixCacheBytes() == before, "a cancelled preparation keeps nothing");
  }

  // ---- the key: another encoding of the same pixels, another system prompt
  {
    auto b2 = model->encodeImage(cropB);
    const auto r = report(*model, b2, system);
    CHECK(r.timings.reusedPrefixPositions == 0, "a new encoding (another window or frame) is another key");
    const auto terse = report(*model, b, "You are a terse radiologist.");
    const auto terseCold = report(*cold, cold->encodeImage(cropB), "You are a terse radiologist.");
    CHECK(terse.timings.reusedPrefixPositions == 0, "another system prompt is another key");
    CHECK_EQ_VEC(terse.tokenIds, terseCold.tokenIds, "another system prompt: the cold answer");
  }

  // ---- capacity: least recently used first; 0 turns it off; a released image frees its entry
  report(*model, b, system);  // b with the stock system prompt: the most recently used
  model->setPrefixCacheImages(1);
  CHECK(model->prefixCacheBytes() == perPosition * positions, "capacity 1 keeps one image");
  report(*model, a, system);  // a's prefix replaces the last used
  CHECK(report(*model, b, system).timings.reusedPrefixPositions == 0, "capacity 1: the older image was dropped");
  model->setPrefixCacheImages(2);
  report(*model, a, system);
  CHECK(model->prefixCacheBytes() == 2 * perPosition * positions, "capacity 2: two images kept");
  a.reset();  // nobody holds image a any more
  report(*model, b, system);
  CHECK(model->prefixCacheBytes() == perPosition * positions, "a released image's prefix is freed at the next use");
  model->setPrefixCacheImages(0);
  CHECK(model->prefixCacheBytes() == 0 && report(*model, b, system).timings.reusedPrefixPositions == 0,
        "0 turns the cache off and frees it");
  CHECK(model->preparePrefix(b, system) == 0 && model->prefixCacheBytes() == 0, "preparePrefix with the cache off does nothing");

  // ---- bad settings
  const std::string tooMany = errorOf([&] { model->setPrefixCacheImages(65); });
  CHECK(tooMany.find("65 images") != std::string::npos && tooMany.find("0 (off) to 64") != std::string::npos,
        "setPrefixCacheImages(65): " + tooMany);
  CHECK(errorOf([&] { model->setPrefixCacheImages(-1); }).find("0 (off) to 64") != std::string::npos,
        "setPrefixCacheImages(-1) refused");
  cxr::LoadOptions bad;
  bad.prefixCacheImages = -3;
  const std::string loadError = errorOf([&] { cxr::Model::load((root / "checkpoint").string(), bad); });
  CHECK(loadError.find("Cannot load the model: -3 images") != std::string::npos, "load with -3 images: " + loadError);
  CHECK(errorOf([&] { model->preparePrefix(nullptr, system); }).find("encode one first") != std::string::npos,
        "preparePrefix without an image is refused");
  CHECK(errorOf([&] { model->preparePrefix(cold->encodeImage(cropA), system); }).find("different model") != std::string::npos,
        "preparePrefix with another model's image is refused");
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path golden = fs::path(check::testData(argc, argv)) / "model" / "golden-cxrllava";
  char tmpl[] = "/tmp/cxr_test_prefix_XXXXXX";  // the int8 / int4 cache files, not the user's cache
  const fs::path tmp = ::mkdtemp(tmpl);
  ::setenv("XDG_CACHE_HOME", tmp.c_str(), 1);
  for (const char* name : {"grid32", "tiny64"}) {
    std::printf("%s\n", name);
    goldenCasesOnOneImage(golden / name, name);
    for (const char* weights : {"bf16", "int8", "int4"}) conversationsAsTheAppRunsThem(golden / name, name, weights);
  }
  prepareKeyAndBounds(golden / "grid32");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return check::finish("test_engine_prefix");
}
