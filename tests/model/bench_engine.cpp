// Engine benchmark (prints figures; not a test). Five modes:
//   bench_engine kernels                  oneDNN bf16 vs fp32 linear, memory read bandwidth
//   bench_engine write-random DIR TOKDIR  writeRandomCheckpoint("7b", bf16) into DIR
//   bench_engine decode DIR [--tokens N]  decode speed alone (2-token text prompt), each step paired
//                                         with a read of the decoder weights (the bandwidth bound)
//   bench_engine run DIR [--threads N] [--tokens N]
//                                         load, vision, report prefill (1121 positions on the 7B
//                                         shapes), decode paired as above, follow-up prefill, peak RSS
//   bench_engine level DIR [--positions N] [--threads N] [--tokens N]
//                                         the CPU level's figures, each printed when measured: a text
//                                         prefill of N positions (default 384) against the GEMM rate
//                                         of the level's compute dtype taken right after it, then
//                                         decode paired with the bound (CXR_CPU_LEVEL=avx2 for avx2)
//   bench_engine prepare-yield DIR [--seconds S]
//                                         a single-threaded foreground task (a window/level repaint of
//                                         a 2048x2048 image) timed alone, beside the preparation of
//                                         an opened image (encoding and prefix, low priority) and
//                                         beside the same work in the foreground
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "cxr/model/tools.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

long statusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

int kernels(int threads) {
  const cxr::KernelReport k = cxr::measureKernels(threads);
  std::printf("threads %d, mkldnn user-enabled %d, built with mkldnn %d\n", k.threads, int(k.mkldnnEnabled),
              int(k.mkldnnBuilt));
  const double bytes = 4096.0 * 4096;
  std::printf("float32   linear 1x4096 @ 4096x4096: %.3f ms (%.1f GB/s of weights); 128x4096: %.0f GFLOP/s\n",
              k.f32GemvMs, bytes * 4 / (k.f32GemvMs / 1e3) / 1e9, k.f32GemmGflops);
  std::printf("bfloat16  linear 1x4096 @ 4096x4096: %.3f ms (%.1f GB/s of weights); 128x4096: %.0f GFLOP/s\n",
              k.bf16GemvMs, bytes * 2 / (k.bf16GemvMs / 1e3) / 1e9, k.bf16GemmGflops);
  std::printf("read bandwidth (streaming sum over 2 GiB, %d threads): %.1f GB/s\n", k.threads, k.readBandwidthGBs);
  std::printf("decode gemv 1x4096 @ 32000x4096 bf16 (256 MB): oneDNN %.1f GB/s, engine (%s) %.1f GB/s\n",
              k.onednnGemvGBs, k.cpuLevel.c_str(), k.engineGemvGBs);
  std::printf("GEMM rate of the level's compute dtype (%s, 1024x4096 @ 4096x4096): %.1f GFLOP/s\n", k.gemmDtype.c_str(),
              k.gemmGflops);
  return 0;
}

// Decode steps against the memory-bandwidth bound, pair by pair (cxr::DecodeBoundMeter): the bandwidth
// of this shared machine drifts by 2x within minutes, so each step is compared with a read of the
// same weights taken right after it.
void printDecodeAgainstBound(const cxr::DecodeBoundMeter& meter, int threads) {
  const auto& pairs = meter.pairs();
  for (size_t i = 0; i < pairs.size(); ++i)
    std::printf("  step %2zu: %4.0f ms   weights read alone: %4.0f ms (%.1f GB/s)   -> %3.0f%% of the bound\n", i + 1,
                pairs[i].stepSeconds * 1e3, pairs[i].readSeconds * 1e3, meter.bytesPerStep() / pairs[i].readSeconds / 1e9,
                100 * pairs[i].fraction());
  if (pairs.empty()) {
    std::printf("  no decode step was taken\n");
    return;
  }
  const double step = meter.medianStepSeconds(), read = meter.medianReadSeconds();
  double lo = 1e9, hi = 0;
  for (const auto& p : pairs) lo = std::min(lo, p.fraction()), hi = std::max(hi, p.fraction());
  std::printf("decode, %zu steps, %d threads: median %.0f ms/step = %.2f tokens/s (%.1f GB/s of weights)\n",
              pairs.size(), threads, step * 1e3, 1 / step, meter.bytesPerStep() / step / 1e9);
  std::printf("bound: %.2f GB of decoder weights read alone in median %.0f ms (%.1f GB/s) = %.2f tokens/s\n",
              meter.bytesPerStep() / 1e9, read * 1e3, meter.bytesPerStep() / read / 1e9, 1 / read);
  std::printf("decode reaches %.0f%% of the memory-bandwidth bound (median of the per-step ratios; min %.0f%%, max %.0f%%)\n",
              100 * meter.medianFraction(), 100 * lo, 100 * hi);
}

// Decode speed alone: a 2-token text prompt (no image, negligible prefill), greedy.
int decodeOnly(const std::string& dir, int threads, int tokens) {
  cxr::LoadOptions opt;
  opt.threads = threads;
  auto model = cxr::Model::load(dir, opt);
  cxr::readDecoderWeights(*model);  // fault the mapping in before anything is timed
  cxr::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.maxNewTokens = tokens + 1;  // the first token comes from the prefill
  cxr::DecodeBoundMeter meter(*model);
  cxr::generateFromIds(*model, {1, 13}, nullptr, greedy, meter.callback());
  printDecodeAgainstBound(meter, threads);
  return meter.pairs().empty() ? 1 : 0;
}

// The CPU level's two targets in one process, in a few minutes on the 7B shapes (the report prompt's
// 1121-position prefill takes too long at fp32 compute on a loaded 2-core machine): prefill FLOP/s
// against the GEMM rate of the level's compute dtype measured right after it, and decode against the
// bound. Each figure is printed (and flushed) as soon as it is measured.
int levelFigures(const std::string& dir, int threads, int positions, int tokens) {
  cxr::LoadOptions opt;
  opt.threads = threads;
  auto t0 = Clock::now();
  auto model = cxr::Model::load(dir, opt);
  cxr::readDecoderWeights(*model);  // fault the mapping in before anything is timed
  const auto& info = model->info();
  std::printf("model %s: %s compute, CPU level %s, %d threads; loaded and paged in in %.1f s\n", dir.c_str(),
              info.dtype.c_str(), info.cpuLevel.c_str(), info.threads, since(t0));
  std::fflush(stdout);
  std::vector<int32_t> ids{1};
  for (int i = 1; i < positions; ++i) ids.push_back(100 + (i * 37) % 20000);  // text positions, no image
  cxr::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.maxNewTokens = 1;
  const auto prefill = cxr::generateFromIds(*model, ids, nullptr, greedy);
  const double gflops = cxr::prefillFlops(*model, 0, prefill.timings.prefillPositions) / prefill.timings.prefillSeconds / 1e9;
  std::printf("prefill: %d positions in %.2f s = %.2f positions/s = %.1f GFLOP/s\n", prefill.timings.prefillPositions,
              prefill.timings.prefillSeconds, prefill.timings.prefillPositionsPerSecond(), gflops);
  std::fflush(stdout);
  const cxr::KernelReport k = cxr::measureKernels(threads);
  std::printf("GEMM rate of the level's compute dtype (%s, 1024x4096 @ 4096x4096, best of 3): %.1f GFLOP/s\n"
              "prefill reaches %.0f%% of it\n",
              k.gemmDtype.c_str(), k.gemmGflops, k.gemmGflops > 0 ? 100 * gflops / k.gemmGflops : 0.0);
  std::printf("decode gemv 1x4096 @ 32000x4096 bf16 (256 MB): engine %.1f GB/s; streaming read of 2 GiB: %.1f GB/s\n",
              k.engineGemvGBs, k.readBandwidthGBs);
  std::fflush(stdout);
  greedy.maxNewTokens = tokens + 1;  // the first token comes from the prefill
  cxr::DecodeBoundMeter meter(*model);
  cxr::generateFromIds(*model, {1, 13}, nullptr, greedy, meter.callback());
  printDecodeAgainstBound(meter, threads);
  return meter.pairs().empty() ? 1 : 0;
}

int run(const std::string& dir, int threads, int tokens) {
  cxr::LoadOptions opt;
  opt.threads = threads;
  auto t0 = Clock::now();
  int lastPct = -10;
  auto model = cxr::Model::load(dir, opt, [&](double f, const std::string&) {
    if (int(f * 100) >= lastPct + 10) {
      lastPct = int(f * 100);
      std::fprintf(stderr, "  load %d%%\n", lastPct);
    }
    return true;
  });
  const double load = since(t0);
  const auto& info = model->info();
  std::printf("model %s: %lld params, %.2f GB of %s weights, compute %s on %s, %d threads\n", dir.c_str(),
              (long long)info.parameterCount, info.weightBytes / 1e9, info.storedDtype.c_str(), info.dtype.c_str(),
              info.device.c_str(), info.threads);
  std::printf("load: %.1f s (RSS after load %.2f GiB)\n", load, statusKb("VmRSS:") / 1048576.0);

  cxr::ImageInput img;
  img.width = img.height = 600;
  img.pixels.resize(600 * 600);
  for (int y = 0; y < 600; ++y)
    for (int x = 0; x < 600; ++x) img.pixels[size_t(y * 600 + x)] = uint8_t((x * 7 + y * 3) % 256);
  auto encoded = model->encodeImage(img);
  std::printf("vision encode: preprocess %.3f s, vision tower + projector %.2f s\n", encoded->preprocessSeconds(),
              encoded->visionSeconds());

  cxr::Conversation conv(*model);
  conv.setImage(encoded);
  cxr::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.maxNewTokens = tokens;
  cxr::DecodeBoundMeter meter(*model);
  auto r = conv.send(cxr::prompts::kReport, greedy, meter.callback());
  std::printf("report prefill: %d positions in %.2f s = %.1f positions/s\n", r.timings.prefillPositions,
              r.timings.prefillSeconds, r.timings.prefillPositionsPerSecond());
  std::printf("decode after the report prompt (stop: %s):\n", cxr::toString(r.stopReason).c_str());
  printDecodeAgainstBound(meter, threads);
  greedy.maxNewTokens = 2;
  auto f = conv.send("Is there a pleural effusion?", greedy);
  std::printf("follow-up: %d new positions prefilled in %.2f s, first token after %.2f s\n",
              f.timings.prefillPositions, f.timings.prefillSeconds, f.timings.firstTokenSeconds);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS: %.2f GiB (weights %.2f GiB; VmHWM %.2f GiB)\n", ru.ru_maxrss / 1048576.0,
              info.weightBytes / 1073741824.0, statusKb("VmHWM:") / 1048576.0);
  return 0;
}

// What the GUI does while the model prepares: one window/level repaint of a 2048x2048 16-bit image
// into 8 bits, on the calling thread. Returns its time in seconds.
double repaintSeconds(const std::vector<uint16_t>& image, std::vector<uint8_t>& out, int round) {
  const auto t0 = Clock::now();
  const float low = float(1000 + round % 7), width = 2000.f;
  for (size_t i = 0; i < image.size(); ++i)
    out[i] = uint8_t(std::clamp((float(image[i]) - low) * (255.f / width), 0.f, 255.f));
  return since(t0);
}

// Repaints for `seconds`, appending each repaint's time to `times`.
void repaintFor(double seconds, std::vector<double>& times) {
  std::vector<uint16_t> image(2048 * 2048);
  for (size_t i = 0; i < image.size(); ++i) image[i] = uint16_t((i * 2654435761u) >> 20);
  std::vector<uint8_t> out(image.size());
  const auto t0 = Clock::now();
  for (int round = 0; since(t0) < seconds; ++round) times.push_back(repaintSeconds(image, out, round));
}

// The median and the 90th percentile.
std::pair<double, double> medianAndP90(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[v.size() * 9 / 10]};
}

// The repaint alone, beside the GUI's preparation of a newly opened image (its encoding at low
// priority, then Model::preparePrefix, also at low priority) and beside the same work at normal
// priority (encoding, then a report prompt's first token): three rounds of `seconds` each.
int prepareYield(const std::string& dir, int threads, double seconds) {
  cxr::LoadOptions opts;
  opts.threads = threads;
  auto model = cxr::Model::load(dir, opts);
  auto imageNumber = [&](int k) {
    cxr::ImageInput img;
    img.width = img.height = 600;
    img.pixels.resize(600 * 600);
    for (int y = 0; y < 600; ++y)
      for (int x = 0; x < 600; ++x) img.pixels[size_t(y * 600 + x)] = uint8_t((x * 7 + y * 3 + k * 11) % 256);
    return img;
  };
  // Each round of background work opens the next of three images: a new encoding, so its prefix is
  // computed again, and the work goes on (a tiny model prepares in milliseconds) until it is stopped.
  const std::vector<cxr::ImageInput> images = {imageNumber(1), imageNumber(2), imageNumber(3)};
  std::atomic<bool> stop{false};
  // Repaints for `seconds` beside `backgroundWork` (run until stopped), appending to `times`.
  auto beside = [&](auto backgroundWork, std::vector<double>& times) {
    stop = false;
    std::thread background([&] {
      try {
        backgroundWork();
      } catch (const cxr::Cancelled&) {
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the work get going
    repaintFor(seconds, times);
    stop = true;
    background.join();
  };
  auto keepGoing = [&](cxr::Phase, int, int) { return !stop; };
  auto preparing = [&] {  // what the GUI does when an image is opened: both steps at low priority
    for (size_t i = 0; !stop; ++i) {
      const auto image = model->encodeImage(images[i % 3], keepGoing, cxr::WorkPriority::Background);
      model->preparePrefix(image, cxr::prompts::kSystem, keepGoing);
    }
  };
  auto prefilling = [&] {  // the same at normal priority: encoding, a report prompt without the prefix cache
    cxr::SamplingParams greedy;
    greedy.temperature = 0;
    greedy.maxNewTokens = 1;
    for (size_t i = 0; !stop; ++i) {
      cxr::Conversation conv(*model);
      conv.setImage(model->encodeImage(images[i % 3], keepGoing));
      conv.send(cxr::prompts::kReport, greedy, {}, keepGoing);
    }
  };
  // Three rounds of the three situations, interleaved: the machine's other load drifts.
  std::vector<double> aloneTimes, lowTimes, normalTimes;
  for (int round = 0; round < 3; ++round) {
    repaintFor(seconds, aloneTimes);
    model->setPrefixCacheImages(2);
    beside(preparing, lowTimes);
    model->setPrefixCacheImages(0);  // each report prompt prefills its whole prompt, as a preparation does
    beside(prefilling, normalTimes);
  }
  const auto alone = medianAndP90(aloneTimes), low = medianAndP90(lowTimes), normal = medianAndP90(normalTimes);
  std::printf("foreground repaint (2048x2048 window/level, one thread), median / 90th percentile:\n");
  std::printf("  alone                                %6.2f / %6.2f ms\n", alone.first * 1e3, alone.second * 1e3);
  std::printf("  beside the preparation (low prio.)   %6.2f / %6.2f ms  = %.2fx the median alone\n", low.first * 1e3,
              low.second * 1e3, low.first / alone.first);
  std::printf("  beside the same work, foreground     %6.2f / %6.2f ms  = %.2fx the median alone\n", normal.first * 1e3,
              normal.second * 1e3, normal.first / alone.first);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    int threads = 2, tokens = 16, positions = 384;
    double seconds = 10;
    for (int i = 1; i + 1 < argc; ++i) {
      if (std::string(argv[i]) == "--seconds") seconds = std::stod(argv[i + 1]);
      if (std::string(argv[i]) == "--positions") positions = std::max(2, std::stoi(argv[i + 1]));
      if (std::string(argv[i]) == "--threads") threads = std::stoi(argv[i + 1]);
      if (std::string(argv[i]) == "--tokens") tokens = std::stoi(argv[i + 1]);
    }
    if (mode == "kernels") return kernels(threads);
    if (mode == "write-random" && argc >= 4) {
      auto t0 = Clock::now();
      cxr::writeRandomCheckpoint(argv[2], "7b", "bf16", argv[3], 1, {});
      std::printf("wrote %s in %.1f s\n", argv[2], since(t0));
      return 0;
    }
    if (mode == "run" && argc >= 3) return run(argv[2], threads, tokens);
    if (mode == "decode" && argc >= 3) return decodeOnly(argv[2], threads, tokens);
    if (mode == "prepare-yield" && argc >= 3) return prepareYield(argv[2], threads, seconds);
    if (mode == "level" && argc >= 3) return levelFigures(argv[2], threads, positions, tokens);
    std::fprintf(stderr, "usage: bench_engine kernels | write-random DIR TOKENIZER_DIR | run DIR [--threads N] [--tokens N]"
                         " | decode DIR [--threads N] [--tokens N] | prepare-yield DIR [--seconds S]"
                         " | level DIR [--positions N] [--threads N] [--tokens N]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_engine: %s\n", e.what());
    return 1;
  }
}
