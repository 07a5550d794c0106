// Loading with int8 / int4 decoder weights (LoadOptions::weights) on the trained stories260K:
// - the cache file is made on first use under $XDG_CACHE_HOME/cxr-assistant/quantized (never in the
//   model folder), said once (ModelInfo::weightsCacheNotice), and reused by the next load;
// - a damaged or cut-short cache file is made again, with a notice that says so;
// - cancelling while it is made throws LoadCancelled and leaves no file behind;
// - an unknown weights name is refused with a sentence naming it;
// - temporaries that killed writers left beside a cache file are removed when it is next made (this
//   host's whose process is gone, any untouched for a day), a live writer's are kept;
// - quality: teacher-forced perplexity on a committed story text (tests/data/text) within 1 % of
//   bf16 for int8 and within 10 % for int4.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "cxr/model/engine.h"
#include "cxr/model/tools.h"
#include "core/quant_cache.h"
#include "support/check.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> filesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  return files;
}

cxr::LoadOptions options(const std::string& weights) {
  cxr::LoadOptions o;
  o.weights = weights;
  o.threads = 1;  // the tiny model's products are too small to gain from threads on a shared machine
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string shared = check::sharedData(argc, argv), data = check::testData(argc, argv);
  const fs::path folder = fs::path(shared) / "stories260k-hf";
  const fs::path textFile = fs::path(data) / "text" / "stories_for_perplexity.txt";
  if (shared.empty() || !fs::exists(folder / "model.safetensors") || !fs::exists(textFile)) {
    std::printf("stories260k-hf or the story text absent: skipped\n");
    return 0;
  }
  char tmpl[] = "/tmp/cxr_test_quant_XXXXXX";
  const fs::path tmp = ::mkdtemp(tmpl);
  ::setenv("XDG_CACHE_HOME", tmp.c_str(), 1);
  const fs::path cacheDir = tmp / "cxr-assistant" / "quantized";

  // Cancelled while the int8 file is being made: LoadCancelled, nothing left in the cache folder.
  bool cancelled = false;
  try {
    cxr::Model::load(folder.string(), options("int8"), [](double, const std::string& stage) {
      return stage.find("making the int8 weights") == std::string::npos;
    });
  } catch (const cxr::LoadCancelled&) {
    cancelled = true;
  }
  CHECK(cancelled, "cancelling while the int8 weights are made throws LoadCancelled");
  CHECK(filesIn(cacheDir).empty(), "a cancelled cache leaves no file behind (" + std::to_string(filesIn(cacheDir).size()) + ")");

  // First use: made, said, under the XDG cache folder; second load: reused silently.
  std::string path;
  {
    auto model = cxr::Model::load(folder.string(), options("int8"));
    const cxr::ModelInfo& info = model->info();
    path = info.weightsCache;
    CHECK(info.weights == "int8", "weights reported: " + info.weights);
    CHECK(info.weightsCacheNotice.find("made the int8 weights") != std::string::npos, "first use is said: " + info.weightsCacheNotice);
    CHECK(fs::path(path).parent_path() == cacheDir, "the cache file lies in the XDG cache folder: " + path);
    CHECK(fs::exists(path), "the cache file exists");
    CHECK(filesIn(cacheDir).size() == 1, "one file in the cache folder (no temporary left)");
  }
  {
    auto model = cxr::Model::load(folder.string(), options("int8"));
    CHECK(model->info().weightsCache == path, "the second load uses the same file");
    CHECK(model->info().weightsCacheNotice.empty(), "the second load makes nothing: " + model->info().weightsCacheNotice);
  }
  // A flipped byte in the weights, then a file cut short: each is made again, with a notice.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(fs::file_size(path) / 2));
    f.put(char(0x5A));
  }
  {
    auto model = cxr::Model::load(folder.string(), options("int8"));
    CHECK(model->info().weightsCacheNotice.find("was damaged") != std::string::npos,
          "a damaged file is made again and said: " + model->info().weightsCacheNotice);
  }
  fs::resize_file(path, fs::file_size(path) - 100);
  {
    auto model = cxr::Model::load(folder.string(), options("int8"));
    CHECK(model->info().weightsCacheNotice.find("was damaged") != std::string::npos,
          "a file cut short is made again and said: " + model->info().weightsCacheNotice);
  }
  {
    auto model = cxr::Model::load(folder.string(), options("int8"));
    CHECK(model->info().weightsCacheNotice.empty(), "the remade file is intact");
  }

  // An unknown name: refused before anything loads.
  try {
    cxr::Model::load(folder.string(), options("int3"));
    CHECK(false, "weights int3 are refused");
  } catch (const cxr::ModelError& e) {
    CHECK(std::string(e.what()).find("'int3'") != std::string::npos, std::string("the refusal names the value: ") + e.what());
  }

  // Made ahead of time: what killed writers left beside the file goes, a live writer's stays.
  {
    const std::string int4 = cxr::quantizeWeights(folder.string(), "int4", {}, nullptr, 1);
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    std::string host(name);
    std::replace(host.begin(), host.end(), '.', '_');
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);  // its pid now names no process
    const std::string deadWriter = int4 + ".tmp." + host + "." + std::to_string(child);
    const std::string liveWriter = int4 + ".tmp." + host + "." + std::to_string(::getppid());  // the shell, alive
    const std::string otherNode = int4 + ".tmp.othernode." + std::to_string(::getpid());
    const std::string dayOld = int4 + ".tmp.12345";
    for (const std::string& p : {deadWriter, liveWriter, otherNode, dayOld}) std::ofstream(p) << "partial";
    fs::last_write_time(dayOld, fs::file_time_type::clock::now() - std::chrono::hours(25));
    fs::remove(int4);
    bool made = false;
    CHECK(cxr::quantizeWeights(folder.string(), "int4", {}, &made, 1) == int4 && made, "the int4 file is made again");
    CHECK(!fs::exists(deadWriter), "a temporary of a process gone from this host is removed");
    CHECK(!fs::exists(dayOld), "a temporary untouched for a day is removed");
    CHECK(fs::exists(liveWriter), "a live writer's temporary is kept");
    CHECK(fs::exists(otherNode), "another node's recent temporary is kept (its writer may live)");
    fs::remove(liveWriter);
    fs::remove(otherNode);
    // A file of the int4 blocks' first layout (block after block; quant_format.h, layout 1): made
    // again in place, under the same name, and said so.
    {
      std::fstream f(int4, std::ios::in | std::ios::out | std::ios::binary);
      uint8_t header[48];
      f.read(reinterpret_cast<char*>(header), sizeof header);
      const uint32_t firstLayout = 1;
      std::memcpy(header + 8, &firstLayout, sizeof firstLayout);
      const uint64_t sum = cxr::detail::checksum64(header, sizeof header);
      f.seekp(8);
      f.write(reinterpret_cast<const char*>(&firstLayout), sizeof firstLayout);
      f.seekp(48);
      f.write(reinterpret_cast<const char*>(&sum), sizeof sum);
    }
    {
      auto model = cxr::Model::load(folder.string(), options("int4"));
      const std::string& notice = model->info().weightsCacheNotice;
      CHECK(model->info().weightsCache == int4 &&
                notice.find("was made by another version of the program (layout 1; this program reads layout 2)") !=
                    std::string::npos,
            "an int4 file of layout 1 is made again in place, and said: " + notice);
      CHECK(filesIn(cacheDir).size() == 2, "nothing left beside it (the int8 and the int4 file)");
    }
    try {
      cxr::quantizeWeights(folder.string(), "int4", {}, nullptr, 100000);
      CHECK(false, "100000 threads are refused");
    } catch (const cxr::ModelError& e) {
      CHECK(std::string(e.what()).rfind("Cannot quantize: 100000 threads", 0) == 0,
            std::string("the refusal says what and why: ") + e.what());
    }
  }

  // Quality on trained weights.
  std::ifstream in(textFile, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  double ppl[3] = {0, 0, 0};
  const char* names[3] = {"bf16", "int8", "int4"};
  for (int i = 0; i < 3; ++i) {
    auto model = cxr::Model::load(folder.string(), options(names[i]));
    CHECK(model->info().weights == names[i], std::string("weights ") + names[i]);
    const cxr::PerplexityResult r = cxr::measurePerplexity(*model, text, 128);
    ppl[i] = r.perplexity;
    std::printf("perplexity %s: %.4f over %d tokens (%d chunks of %d, level %s)\n", names[i], r.perplexity, r.scoredTokens,
                r.chunks, r.chunkTokens, r.cpuLevel.c_str());
    CHECK(r.scoredTokens == r.chunks * (128 - 64 - 1), "the second half of each chunk is scored");
  }
  CHECK(ppl[0] > 1 && ppl[0] < 20, "bf16 perplexity is that of a trained model: " + std::to_string(ppl[0]));
  CHECK(std::fabs(ppl[1] / ppl[0] - 1) < 0.01, "int8 within 1 % of bf16: " + std::to_string(ppl[1] / ppl[0]));
  CHECK(ppl[2] / ppl[0] - 1 < 0.10, "int4 within 10 % of bf16: " + std::to_string(ppl[2] / ppl[0]));

  fs::remove_all(tmp);
  return check::finish("test_engine_quant");
}
