#include "commands.h"

#include <QImage>
#include <QString>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cxr/model/tools.h"
#include "image_reader.h"

namespace fs = std::filesystem;

namespace cxr::cli {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool stderrIsTerminal() { return isatty(STDERR_FILENO) != 0; }

std::string resolveModelFolder(const Options& o) {
  if (!o.model.empty()) return o.model;
  if (auto found = cxr::discoverModelFolder()) return *found;
  throw std::runtime_error(cxr::howToGetModel());
}

std::unique_ptr<cxr::Model> loadModel(const Options& o) {
  const std::string folder = resolveModelFolder(o);
  const bool showProgress = !o.quiet && !o.json && stderrIsTerminal();
  cxr::LoadProgress progress;
  if (showProgress) {
    progress = [](double fraction, const std::string& stage) {
      std::fprintf(stderr, "\rloading %3d%%  %-60.60s", static_cast<int>(fraction * 100), stage.c_str());
      std::fflush(stderr);
      return true;
    };
  }
  auto model = cxr::Model::load(folder, o.load, progress);
  if (showProgress) std::fprintf(stderr, "\r%-80s\r", "");
  // Said once, whatever the output: a cache made now (minutes) or a weights choice made for the user.
  const cxr::ModelInfo& info = model->info();
  if (!o.quiet && !info.weightsCacheNotice.empty()) std::fprintf(stderr, "cxr-llava: %s\n", info.weightsCacheNotice.c_str());
  if (!o.quiet && !info.weightsReason.empty()) std::fprintf(stderr, "cxr-llava: %s\n", info.weightsReason.c_str());
  return model;
}

// ---- Output -----------------------------------------------------------------------------------

// --json output: keys in the order written, 64-bit integers exact, non-finite numbers as null,
// invalid UTF-8 as U+FFFD.
using Json = nlohmann::ordered_json;
std::string dumped(const Json& j) { return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace); }

void writeTimings(Json& out, const cxr::Timings& t) {
  Json& j = out["timings"];
  j["load"] = t.loadSeconds;
  j["preprocess"] = t.preprocessSeconds;
  j["vision"] = t.visionSeconds;
  j["prefill"] = t.prefillSeconds;
  j["prefill_positions"] = t.prefillPositions;
  j["prefill_positions_per_s"] = t.prefillPositionsPerSecond();
  j["reused_prefix_positions"] = t.reusedPrefixPositions;
  j["first_token"] = t.firstTokenSeconds;
  j["decode"] = t.decodeSeconds;
  j["decode_tokens"] = t.decodeTokens;
  j["decode_tokens_per_s"] = t.decodeTokensPerSecond();
}

std::string resultJson(const cxr::GenerationResult& r, const cxr::Model& model) {
  Json j;
  j["text"] = r.text;
  j["token_ids"] = r.tokenIds;
  j["prompt_ids"] = r.promptIds;
  j["stop_reason"] = cxr::toString(r.stopReason);
  j["seed"] = static_cast<uint64_t>(r.seed);
  j["sampling"] = {{"temperature", static_cast<double>(r.sampling.temperature)},
                   {"top_p", static_cast<double>(r.sampling.topP)},
                   {"top_k", r.sampling.topK},
                   {"max_new_tokens", r.sampling.maxNewTokens}};
  cxr::Timings t = r.timings;
  if (t.loadSeconds == 0) t.loadSeconds = model.loadSeconds();
  writeTimings(j, t);
  j["peak_rss_bytes"] = peakRssBytes();
  j["model"] = {{"folder", model.info().folder},
                {"device", model.info().device},
                {"dtype", model.info().dtype},
                {"weights", model.info().weights},
                {"threads", model.info().threads},
                {"cpu_level", model.info().cpuLevel},
                {"prefix_cache_images", model.prefixCacheImages()}};
  return dumped(j);
}

// Streams generated text to stdout as it arrives (unless --json).
cxr::TokenCallback streamingCallback(const Options& o) {
  if (o.json) return {};
  return [](const cxr::TokenEvent& e) {
    if (!e.text.empty()) {
      std::fwrite(e.text.data(), 1, e.text.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  };
}

void finishOutput(const Options& o, const cxr::GenerationResult& r, const cxr::Model& model) {
  if (o.json) {
    std::printf("%s\n", resultJson(r, model).c_str());
  } else {
    std::printf("\n");
  }
  std::fflush(stdout);
}

// ---- --dump-dir -------------------------------------------------------------------------------

void writeFloats(const fs::path& file, const std::vector<float>& values) {
  static_assert(std::endian::native == std::endian::little, "f32le dumps assume a little-endian host");
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!out) throw std::runtime_error(file.string() + ": cannot write the file");
}

void writeDump(const std::string& dir, const cxr::DebugCapture& debug, const cxr::EncodedImage* image,
               const std::vector<int32_t>& promptIds) {
  fs::create_directories(dir);
  Json shapes = Json::object();
  if (image) {
    const auto& info = image->preprocessInfo();
    QImage crop(info.crop.data(), info.cropSize, info.cropSize, info.cropSize, QImage::Format_Grayscale8);
    const fs::path png = fs::path(dir) / "crop_uint8.png";
    if (!crop.save(QString::fromStdString(png.string()), "PNG"))
      throw std::runtime_error(png.string() + ": cannot write the PNG");
    shapes["crop_uint8"] = std::vector<int64_t>{info.cropSize, info.cropSize};
    shapes["crop_top_left"] = std::vector<int64_t>{info.cropTop, info.cropLeft};
    shapes["resized_size_wh"] = std::vector<int64_t>{info.resizedWidth, info.resizedHeight};
  }
  if (!debug.pixelValues.empty()) {
    writeFloats(fs::path(dir) / "pixel_values.f32le", debug.pixelValues);
    shapes["pixel_values"] = debug.pixelShape;
  }
  if (!debug.imageEmbeddings.empty()) {
    writeFloats(fs::path(dir) / "image_embeddings.f32le", debug.imageEmbeddings);
    shapes["image_embeddings"] = debug.embeddingShape;
  }
  if (!debug.firstLogits.empty()) {
    writeFloats(fs::path(dir) / "first_logits.f32le", debug.firstLogits);
    shapes["first_logits"] = debug.logitsShape;
  }
  shapes["prompt_ids"] = promptIds;
  shapes["dtype"] = "float32 little-endian";
  std::ofstream(fs::path(dir) / "shapes.json") << dumped(shapes) << "\n";
}

// ---- Commands ---------------------------------------------------------------------------------

// --image, read before the model loads (seconds to minutes): a file that cannot be used is said at once.
std::optional<cxr::ImageInput> readImageOption(const Options& o) {
  if (o.image.empty()) return std::nullopt;
  return readImageForModel(o.image, o.maxImageMegapixels, o.maxFileMegapixels);
}

std::shared_ptr<const cxr::EncodedImage> encode(cxr::Model& model, const std::optional<cxr::ImageInput>& input) {
  return input ? model.encodeImage(*input) : nullptr;
}

int runImagePrompt(const Options& o, const std::string& userMessage) {
  const auto input = readImageOption(o);
  auto model = loadModel(o);
  const auto image = encode(*model, input);
  cxr::DebugCapture debug;
  debug.enabled = !o.dumpDir.empty();
  cxr::GenerationResult result;
  if (o.promptIds) {
    const bool wantsImage = std::find(o.promptIds->begin(), o.promptIds->end(), -200) != o.promptIds->end();
    if (wantsImage && !image) throw std::runtime_error("--prompt-ids contains -200 (the image) but no --image was given");
    result = cxr::generateFromIds(*model, *o.promptIds, image, o.sampling, streamingCallback(o), {},
                                  debug.enabled ? &debug : nullptr);
  } else {
    cxr::Conversation conversation(*model);
    conversation.setImage(image);
    result = conversation.send(userMessage, o.sampling, streamingCallback(o), {}, debug.enabled ? &debug : nullptr);
  }
  if (image && result.timings.preprocessSeconds == 0) {
    result.timings.preprocessSeconds = image->preprocessSeconds();
    result.timings.visionSeconds = image->visionSeconds();
  }
  finishOutput(o, result, *model);
  if (debug.enabled) writeDump(o.dumpDir, debug, image.get(), result.promptIds);
  return result.stopReason == cxr::StopReason::Cancelled ? 1 : 0;
}

// --drop-old-turns: forget the oldest exchanges until `message` fits the context. The image stays
// attached; the conversation puts its tag on the new first question (to `message` itself when every
// exchange goes). Stops when nothing is left to drop; send() then refuses what still does not fit.
void dropOldTurnsFor(cxr::Conversation& conversation, const std::string& message, const cxr::SamplingParams& sampling) {
  int dropped = 0;
  while (!conversation.contextBudgetWith(message, sampling).fits()) {
    std::vector<cxr::Message> turns(conversation.messages().begin() + 1, conversation.messages().end());
    if (turns.size() < 2) break;
    turns.erase(turns.begin(), turns.begin() + 2);
    conversation.restore(turns);
    ++dropped;
  }
  if (dropped > 0)
    std::fprintf(stderr, "cxr-llava: dropped the %d oldest exchange%s to make room (--drop-old-turns)\n", dropped,
                 dropped == 1 ? "" : "s");
}

int runChat(const Options& o) {
  const auto input = readImageOption(o);
  auto model = loadModel(o);
  const auto image = encode(*model, input);
  cxr::Conversation conversation(*model);
  if (image) conversation.setImage(image);
  const bool interactive = isatty(STDIN_FILENO) != 0;
  int refused = 0;
  std::string line;
  while (true) {
    if (interactive) std::fprintf(stderr, "you> ");
    if (!std::getline(std::cin, line) || line.empty()) break;
    const bool first = conversation.messages().size() <= 1;
    const std::string& message = line;  // the conversation puts "<image>\n" on the first turn
    // A refused turn (it does not fit the context, say) leaves the conversation as it was: say why
    // and read the next line. The exit status tells a script that a turn went unanswered.
    try {
      if (o.dropOldTurns && !first) dropOldTurnsFor(conversation, message, o.sampling);
      const auto result = conversation.send(message, o.sampling, streamingCallback(o));
      finishOutput(o, result, *model);
    } catch (const cxr::ModelError& e) {
      std::string why = e.what();
      std::replace(why.begin(), why.end(), '\n', ' ');
      std::fprintf(stderr, "cxr-llava: turn not answered: %s\n", why.c_str());
      std::fflush(stderr);
      ++refused;
    }
  }
  return refused > 0 ? 1 : 0;
}

int runGenerate(const Options& o) {
  auto model = loadModel(o);
  const std::vector<int32_t> ids = o.promptIds ? *o.promptIds : model->tokenize(o.prompt, /*addBos=*/true);
  cxr::DebugCapture debug;
  debug.enabled = !o.dumpDir.empty();
  const auto result = cxr::generateFromIds(*model, ids, nullptr, o.sampling, streamingCallback(o), {},
                                           debug.enabled ? &debug : nullptr);
  // The reference prints the prompt and its continuation; so does llama2.c. Here the prompt is
  // the user's own text, so only the continuation is streamed.
  finishOutput(o, result, *model);
  if (debug.enabled) writeDump(o.dumpDir, debug, nullptr, result.promptIds);
  return 0;
}

const char* kindName(cxr::ModelKind kind) {
  return kind == cxr::ModelKind::CxrLlava ? "CXR-LLaVA (vision + LLaMA)" : "LLaMA (text only)";
}

int runInspect(const Options& o) {
  auto model = loadModel(o);
  const cxr::ModelInfo& i = model->info();
  // The stock report prompt with the image: a context that cannot hold it (and an answer) makes
  // every report a refusal; say so now rather than at the first report.
  std::optional<cxr::ContextBudget> report;
  if (i.kind == cxr::ModelKind::CxrLlava) {
    report = cxr::Conversation(*model).contextBudgetWith(cxr::prompts::kReport);
    if (!report->fits())
      std::fprintf(stderr,
                   "cxr-llava: warning: the model's context holds %d positions, too few for the image and the "
                   "stock report prompt (%d) with room for an answer (%d): every report would be refused\n",
                   report->contextTokens, report->promptTokens, report->minimumAnswer);
  }
  if (o.json) {
    Json j;
    j["ok"] = true;
    j["kind"] = i.kind == cxr::ModelKind::CxrLlava ? "cxr-llava" : "text-llama";
    j["folder"] = i.folder;
    j["device"] = i.device;
    j["dtype"] = i.dtype;
    j["cpu_level"] = i.cpuLevel;
    j["stored_dtype"] = i.storedDtype;
    j["weights"] = i.weights;
    j["weights_reason"] = i.weightsReason;
    j["weights_cache"] = i.weightsCache;
    j["threads"] = i.threads;
    j["parameters"] = static_cast<int64_t>(i.parameterCount);
    j["weight_bytes"] = static_cast<int64_t>(i.weightBytes);
    j["image_size"] = i.imageSize;
    j["patch_size"] = i.patchSize;
    j["image_tokens"] = i.imageTokens;
    j["vision_width"] = i.visionWidth;
    j["vision_layers"] = i.visionLayers;
    j["hidden_size"] = i.hiddenSize;
    j["layers"] = i.layers;
    j["heads"] = i.heads;
    j["kv_heads"] = i.kvHeads;
    j["vocab_size"] = i.vocabSize;
    j["max_context"] = i.maxContext;
    if (report) {
      j["report_prompt_tokens"] = report->promptTokens;
      j["report_context_tokens"] = report->contextTokens;
      j["report_prompt_fits"] = report->fits();
    }
    j["tokenizer_legacy"] = i.tokenizerLegacy;
    j["config_sha256"] = i.configSha256;
    j["weight_index_sha256"] = i.weightIndexSha256;
    j["load_seconds"] = model->loadSeconds();
    j["peak_rss_bytes"] = peakRssBytes();
    std::printf("%s\n", dumped(j).c_str());
    return 0;
  }
  std::printf("model folder     %s\n", i.folder.c_str());
  std::printf("kind             %s\n", kindName(i.kind));
  std::printf("weights          %.3f G parameters, %.2f GB stored as %s\n", i.parameterCount / 1e9,
              i.weightBytes / 1e9, i.storedDtype.c_str());
  std::printf("compute          %s, %s, %d threads, CPU level %s\n", i.device.c_str(), i.dtype.c_str(), i.threads,
              i.cpuLevel.c_str());
  std::printf("decoder weights  %s%s%s\n", i.weights.c_str(), i.weightsCache.empty() ? "" : (" from " + i.weightsCache).c_str(),
              i.weightsReason.empty() ? "" : (" (" + i.weightsReason + ")").c_str());
  if (i.kind == cxr::ModelKind::CxrLlava)
    std::printf("vision           %dx%d image, patch %d, %d image tokens, width %d, %d layers\n", i.imageSize,
                i.imageSize, i.patchSize, i.imageTokens, i.visionWidth, i.visionLayers);
  std::printf("language model   hidden %d, %d layers, %d heads (%d key/value), vocabulary %d, context %d\n",
              i.hiddenSize, i.layers, i.heads, i.kvHeads, i.vocabSize, i.maxContext);
  if (report)
    std::printf("report prompt    %d of %d positions (image included), room for %d new tokens%s\n",
                report->promptTokens, report->contextTokens, std::max(0, report->room()),
                report->fits() ? "" : ": TOO SMALL, see the warning");
  std::printf("tokenizer        legacy=%s\n", i.tokenizerLegacy ? "true" : "false");
  std::printf("config.json      sha256 %s\n", i.configSha256.c_str());
  std::printf("weight index     sha256 %s\n", i.weightIndexSha256.c_str());
  std::printf("load time        %.2f s, peak RSS %.1f MiB\n", model->loadSeconds(), peakRssBytes() / 1048576.0);
  std::printf("OK: the folder loads.\n");
  return 0;
}

// A deterministic synthetic chest-sized gray image for bench when no --image is given.
cxr::ImageInput syntheticImage() {
  cxr::ImageInput image;
  image.width = 600;
  image.height = 720;
  image.pixels.resize(static_cast<size_t>(image.width) * image.height);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      image.pixels[static_cast<size_t>(y) * image.width + x] = static_cast<uint8_t>((x * 7 + y * 3 + (x * y) % 31) & 0xff);
  return image;
}

// What a user's other program does to the decode: a child process that spins on one core from
// construction until destruction (then it is killed and reaped). A process rather than a thread of
// ours, so that it competes for the CPU exactly as another program would.
class BusyCore {
 public:
  BusyCore() {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error(std::string("bench --busy-core: cannot start the busy process: ") + std::strerror(errno));
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive bench, even if it crashes
      volatile unsigned long spins = 0;
      for (;;) spins = spins + 1;
    }
  }
  ~BusyCore() {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  BusyCore(const BusyCore&) = delete;
  BusyCore& operator=(const BusyCore&) = delete;

 private:
  pid_t pid_ = -1;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Decode steps (seconds from one token to the next) of a greedy differential in a new conversation
// on `image` (its prefix is cached, so the prefill is short), appended to `steps`.
void timeDecodeSteps(cxr::Model& model, const std::shared_ptr<const cxr::EncodedImage>& image,
                     const cxr::SamplingParams& greedy, std::vector<double>& steps) {
  cxr::Conversation conversation(model);
  conversation.setImage(image);
  Clock::time_point last{};
  conversation.send(cxr::prompts::kDifferential, greedy, [&](const cxr::TokenEvent& event) {
    if (event.index > 0) steps.push_back(secondsSince(last));
    last = Clock::now();
    return true;
  });
}

// Decode speed idle and beside a one-core busy loop, in alternating rounds so that both see the same
// machine (its bandwidth and other load drift within minutes).
struct BusyDecode {
  double idleTokensPerSecond = 0, busyTokensPerSecond = 0;
  double ratio() const { return idleTokensPerSecond > 0 ? busyTokensPerSecond / idleTokensPerSecond : 0; }
};
BusyDecode measureBusyDecode(cxr::Model& model, const std::shared_ptr<const cxr::EncodedImage>& image,
                             const cxr::SamplingParams& greedy) {
  std::vector<double> idle, busy;
  for (int round = 0; round < 2; ++round) {
    timeDecodeSteps(model, image, greedy, idle);
    BusyCore spinner;
    timeDecodeSteps(model, image, greedy, busy);
  }
  BusyDecode r;
  const double idleStep = median(idle), busyStep = median(busy);
  r.idleTokensPerSecond = idleStep > 0 ? 1 / idleStep : 0;
  r.busyTokensPerSecond = busyStep > 0 ? 1 / busyStep : 0;
  return r;
}

double loadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

int runBench(const Options& o) {
  auto model = loadModel(o);
  const cxr::ModelInfo& info = model->info();
  if (info.kind != cxr::ModelKind::CxrLlava) throw std::runtime_error("bench needs a CXR-LLaVA model folder (vision + LLaMA)");
  const cxr::ImageInput input = o.image.empty() ? syntheticImage() : *readImageOption(o);
  auto start = Clock::now();
  const auto image = model->encodeImage(input);
  const double encodeSeconds = secondsSince(start);

  cxr::SamplingParams greedy = o.sampling;
  greedy.temperature = 0;
  greedy.maxNewTokens = o.benchDecodeTokens;
  cxr::Conversation conversation(*model);
  conversation.setImage(image);
  // Each decode step of the report is paired with a read of the decoder weights taken right after
  // it: the bound at that moment (the read bandwidth of a shared machine drifts by 2x in minutes).
  cxr::DecodeBoundMeter meter(*model);
  const auto report = conversation.send(cxr::prompts::kReport, greedy, meter.callback());
  const int64_t reportPeakRss = peakRssBytes();  // issue 8's figure: the whole process after a report
  const auto followUp = conversation.send("Is there a pleural effusion?", greedy);
  // The differential after the report, in a new conversation on the same image: with the prefix
  // cache (--prefix-cache, on by default) it prefills only the text after the image.
  cxr::SamplingParams second = greedy;
  second.maxNewTokens = 1;
  cxr::Conversation secondConversation(*model);
  secondConversation.setImage(image);
  const auto secondPrompt = secondConversation.send(cxr::prompts::kDifferential, second);

  std::optional<BusyDecode> busy;
  if (o.benchBusyCore) busy = measureBusyDecode(*model, image, greedy);

  const double stepSeconds = meter.medianStepSeconds(), readSeconds = meter.medianReadSeconds();
  const int reportPositions = report.timings.reusedPrefixPositions + report.timings.prefillPositions;
  const double decodeRate = stepSeconds > 0 ? 1 / stepSeconds : 0;
  const double boundTokensPerSecond = readSeconds > 0 ? 1 / readSeconds : 0;
  const double decodeBytes = double(meter.bytesPerStep());
  // Taken before the kernel probe below, which allocates 2 GiB of its own.
  const int64_t peakRss = peakRssBytes();
  // What is resident now, by kind: mapped files (the weights) and the process's own memory (KV
  // caches, the prefix cache, activations, libtorch).
  const int64_t rssFile = statusBytes("RssFile"), rssAnon = statusBytes("RssAnon");
  // The backend figures: oneDNN flags, bf16 vs fp32 linear, and a streaming read of a fresh 2 GiB
  // buffer (for comparison; the bound above reads the weights themselves).
  const cxr::KernelReport kernels = cxr::measureKernels(info.threads);
  const double bandwidth = kernels.readBandwidthGBs * 1e9;
  // The report prefill's matrix products per second, against the GEMM rate of the level's compute
  // dtype measured in the same run (kernels.gemmGflops).
  const double prefillGflops =
      report.timings.prefillSeconds > 0
          ? cxr::prefillFlops(*model, report.timings.reusedPrefixPositions, report.timings.prefillPositions) /
                report.timings.prefillSeconds / 1e9
          : 0;
  if (o.json) {
    Json j;
    j["model"] = info.folder;
    j["device"] = info.device;
    j["dtype"] = info.dtype;
    j["cpu_level"] = info.cpuLevel;
    j["weights"] = info.weights;
    j["threads"] = info.threads;
    j["weight_bytes"] = static_cast<int64_t>(info.weightBytes);
    j["load_s"] = model->loadSeconds();
    j["image_encode_s"] = encodeSeconds;
    j["preprocess_s"] = image->preprocessSeconds();
    j["vision_s"] = image->visionSeconds();
    j["report_prefill_positions"] = report.timings.prefillPositions;
    j["report_prefill_s"] = report.timings.prefillSeconds;
    j["report_prefill_positions_per_s"] = report.timings.prefillPositionsPerSecond();
    j["prefill_gflops"] = prefillGflops;
    j["gemm_dtype"] = kernels.gemmDtype;
    j["gemm_gflops"] = kernels.gemmGflops;
    j["prefill_fraction_of_gemm"] = kernels.gemmGflops > 0 ? prefillGflops / kernels.gemmGflops : 0.0;
    j["report_first_token_s"] = report.timings.firstTokenSeconds;
    j["decode_tokens"] = report.timings.decodeTokens;
    j["decode_steps_measured"] = static_cast<int64_t>(meter.pairs().size());
    j["decode_step_median_s"] = stepSeconds;
    j["decode_tokens_per_s"] = decodeRate;
    j["followup_prefill_positions"] = followUp.timings.prefillPositions;
    j["followup_prefill_s"] = followUp.timings.prefillSeconds;
    j["followup_first_token_s"] = followUp.timings.firstTokenSeconds;
    j["second_prompt_prefill_positions"] = secondPrompt.timings.prefillPositions;
    j["second_prompt_reused_prefix_positions"] = secondPrompt.timings.reusedPrefixPositions;
    j["second_prompt_first_token_s"] = secondPrompt.timings.firstTokenSeconds;
    j["prefix_cache_images"] = model->prefixCacheImages();
    j["prefix_cache_bytes"] = model->prefixCacheBytes();
    j["mkldnn_enabled"] = kernels.mkldnnBuilt && kernels.mkldnnEnabled;
    j["bf16_linear_1x4096x4096_ms"] = kernels.bf16GemvMs;
    j["f32_linear_1x4096x4096_ms"] = kernels.f32GemvMs;
    j["read_bandwidth_2gib_bytes_per_s"] = bandwidth;
    j["decode_bytes_per_token"] = decodeBytes;
    j["weight_read_median_s"] = readSeconds;
    j["bandwidth_bound_tokens_per_s"] = boundTokensPerSecond;
    j["fraction_of_bound"] = meter.medianFraction();
    j["kv_cache_bytes_per_position"] = meter.cacheBytesPerPosition();
    j["fraction_of_bound_with_kv_cache"] = meter.medianFractionWithCache(reportPositions);
    if (busy) {
      j["idle_decode_tokens_per_s"] = busy->idleTokensPerSecond;
      j["busy_decode_tokens_per_s"] = busy->busyTokensPerSecond;
      j["busy_decode_ratio"] = busy->ratio();
    }
    j["load_average"] = loadAverage();
    j["peak_rss_bytes"] = peakRss;
    j["report_peak_rss_bytes"] = reportPeakRss;
    j["rss_file_bytes"] = rssFile;
    j["rss_anon_bytes"] = rssAnon;
    std::printf("%s\n", dumped(j).c_str());
    return 0;
  }
  std::printf("model                 %s (%s, %s, %s weights, %d threads, CPU level %s)\n", info.folder.c_str(),
              info.device.c_str(), info.dtype.c_str(), info.weights.c_str(), info.threads, info.cpuLevel.c_str());
  std::printf("weights               %.2f GB\n", info.weightBytes / 1e9);
  std::printf("load                  %.2f s\n", model->loadSeconds());
  std::printf("image encode          %.2f s (preprocess %.3f s, vision + projector %.2f s)\n", encodeSeconds,
              image->preprocessSeconds(), image->visionSeconds());
  std::printf("report prefill        %d positions in %.2f s = %.1f positions/s (first token after %.2f s)\n",
              report.timings.prefillPositions, report.timings.prefillSeconds,
              report.timings.prefillPositionsPerSecond(), report.timings.firstTokenSeconds);
  std::printf("                      %.1f GFLOP/s, %.0f%% of the %s GEMM rate (%.1f GFLOP/s, 1024x4096 @ 4096x4096)\n",
              prefillGflops, kernels.gemmGflops > 0 ? 100 * prefillGflops / kernels.gemmGflops : 0.0,
              kernels.gemmDtype.c_str(), kernels.gemmGflops);
  std::printf("decode                %zu steps after the report prompt: median %.0f ms = %.2f tokens/s\n",
              meter.pairs().size(), stepSeconds * 1e3, decodeRate);
  std::printf("follow-up question    %d new positions prefilled in %.3f s, first token after %.3f s\n",
              followUp.timings.prefillPositions, followUp.timings.prefillSeconds, followUp.timings.firstTokenSeconds);
  std::printf("second prompt         differential in a new conversation on the image: %d positions prefilled\n"
              "                      (%d reused from the image's prefix), first token after %.3f s\n",
              secondPrompt.timings.prefillPositions, secondPrompt.timings.reusedPrefixPositions,
              secondPrompt.timings.firstTokenSeconds);
  if (busy)
    std::printf("beside a busy core    %.2f tokens/s against %.2f idle = %.0f%% (differential decodes, idle and\n"
                "                      beside a one-core busy process in alternating rounds)\n",
                busy->busyTokensPerSecond, busy->idleTokensPerSecond, 100 * busy->ratio());
  std::printf("oneDNN                built %d, enabled %d; linear 1x4096 @ 4096x4096: bf16 %.2f ms, fp32 %.2f ms\n",
              kernels.mkldnnBuilt, kernels.mkldnnEnabled, kernels.bf16GemvMs, kernels.f32GemvMs);
  std::printf("bandwidth bound       %.2f GB of decoder weights read alone in median %.0f ms = %.2f tokens/s\n",
              decodeBytes / 1e9, readSeconds * 1e3, boundTokensPerSecond);
  std::printf("                      decode reaches %.0f%% of it (median of per-step ratios, each step paired\n"
              "                      with a read of the same weights right after it)\n",
              100 * meter.medianFraction());
  std::printf("                      with the KV cache's bytes (%.2f MB a position, %d prompt positions and the\n"
              "                      answer's) added to the weights': %.0f%%\n",
              meter.cacheBytesPerPosition() / 1e6, reportPositions, 100 * meter.medianFractionWithCache(reportPositions));
  std::printf("memory read bandwidth %.1f GB/s (fresh 2 GiB buffer, %d threads, best of 5; for comparison)\n",
              bandwidth / 1e9, info.threads);
  std::printf("load average          %.2f (1 minute, at the end)\n", loadAverage());
  std::printf("peak RSS              %.2f GiB after the report, %.2f GiB after the second prompt (weights %.2f GiB;\n"
              "                      before the 2 GiB bandwidth probe)\n",
              reportPeakRss / 1073741824.0, peakRss / 1073741824.0, info.weightBytes / 1073741824.0);
  std::printf("resident then         %.2f GiB of mapped files (weights) + %.2f GiB of the process's own memory\n",
              rssFile / 1073741824.0, rssAnon / 1073741824.0);
  return 0;
}

int runPerplexity(const Options& o) {
  std::ifstream in(o.textFile, std::ios::binary);
  if (!in) throw std::runtime_error(o.textFile + ": cannot open the text file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto model = loadModel(o);
  const cxr::PerplexityResult r = cxr::measurePerplexity(*model, text, o.perplexityChunk);
  const cxr::ModelInfo& info = model->info();
  if (o.json) {
    Json j;
    j["perplexity"] = r.perplexity;
    j["tokens"] = r.scoredTokens;
    j["text_tokens"] = r.textTokens;
    j["chunks"] = r.chunks;
    j["chunk_tokens"] = r.chunkTokens;
    j["weights"] = info.weights;
    j["cpu_level"] = r.cpuLevel;
    j["dtype"] = info.dtype;
    j["threads"] = info.threads;
    j["seconds"] = r.seconds;
    j["model"] = info.folder;
    j["text"] = o.textFile;
    std::printf("%s\n", dumped(j).c_str());
    return 0;
  }
  std::printf("perplexity %.4f over %d tokens (%d chunks of %d, second halves scored; %s weights, %s, cpu level %s) in %.1f s\n",
              r.perplexity, r.scoredTokens, r.chunks, r.chunkTokens, info.weights.c_str(), info.dtype.c_str(),
              r.cpuLevel.c_str(), r.seconds);
  return 0;
}

int runQuantize(const Options& o) {
  const std::string folder = resolveModelFolder(o);
  const bool showProgress = !o.quiet && stderrIsTerminal();
  cxr::LoadProgress progress;
  if (showProgress)
    progress = [](double fraction, const std::string& stage) {
      std::fprintf(stderr, "\r%3d%%  %-70.70s", static_cast<int>(fraction * 100), stage.c_str());
      std::fflush(stderr);
      return true;
    };
  const auto start = Clock::now();
  bool madeNow = false;
  const std::string path = cxr::quantizeWeights(folder, o.load.weights, progress, &madeNow, o.load.threads);
  if (showProgress) std::fprintf(stderr, "\r%-80s\r", "");
  if (o.json) {
    Json j;
    j["weights"] = o.load.weights;
    j["cache"] = path;
    j["made"] = madeNow;
    j["seconds"] = secondsSince(start);
    std::printf("%s\n", dumped(j).c_str());
    return 0;
  }
  std::printf("%s the %s weights of %s: %s (%.1f s)\n", madeNow ? "made" : "already there and intact:",
              o.load.weights.c_str(), folder.c_str(), path.c_str(), secondsSince(start));
  return 0;
}

int runMakeRandomCheckpoint(const Options& o) {
  std::string tokenizer = o.tokenizerFrom;
  if (tokenizer.empty() && !o.model.empty()) tokenizer = o.model;
  if (tokenizer.empty()) {
    if (auto found = cxr::discoverModelFolder()) tokenizer = *found;
  }
  if (tokenizer.empty())
    throw std::runtime_error("make-random-checkpoint needs --tokenizer-from DIR (a folder holding the LLaMA-2 tokenizer.model)");
  const bool showProgress = !o.quiet && stderrIsTerminal();
  cxr::LoadProgress progress;
  if (showProgress)
    progress = [](double fraction, const std::string& stage) {
      std::fprintf(stderr, "\rwriting %3d%%  %-60.60s", static_cast<int>(fraction * 100), stage.c_str());
      std::fflush(stderr);
      return true;
    };
  const auto start = Clock::now();
  cxr::writeRandomCheckpoint(o.out, o.preset, o.checkpointDtype, tokenizer, o.checkpointSeed, progress);
  if (showProgress) std::fprintf(stderr, "\n");
  std::printf("wrote a random %s checkpoint (%s) to %s in %.1f s\n", o.preset.c_str(), o.checkpointDtype.c_str(),
              o.out.c_str(), secondsSince(start));
  return 0;
}

}  // namespace

int64_t statusBytes(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;  // "VmHWM:  123 kB"
  return 0;
}

int64_t peakRssBytes() { return statusBytes("VmHWM"); }

int runCommand(const Options& o) {
  if (o.command == "report") return runImagePrompt(o, cxr::prompts::kReport);
  if (o.command == "differential") return runImagePrompt(o, cxr::prompts::kDifferential);
  if (o.command == "ask") return runImagePrompt(o, o.question);  // the conversation adds "<image>\n"
  if (o.command == "chat") return runChat(o);
  if (o.command == "generate") return runGenerate(o);
  if (o.command == "inspect") return runInspect(o);
  if (o.command == "bench") return runBench(o);
  if (o.command == "perplexity") return runPerplexity(o);
  if (o.command == "quantize") return runQuantize(o);
  if (o.command == "make-random-checkpoint") return runMakeRandomCheckpoint(o);
  throw std::runtime_error("unknown command " + o.command);
}

}  // namespace cxr::cli
