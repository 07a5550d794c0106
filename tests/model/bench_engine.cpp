// Engine benchmark (prints figures; not a test). Three modes:
//   bench_engine kernels                  oneDNN bf16 vs fp32 linear, memory read bandwidth
//   bench_engine write-random DIR TOKDIR  writeRandomCheckpoint("7b", bf16) into DIR
//   bench_engine decode DIR [--tokens N]  decode speed alone (2-token text prompt)
//   bench_engine run DIR [--threads N] [--tokens N]
//                                         load, vision, report prefill (1121 positions on the 7B
//                                         shapes), decode, follow-up prefill, peak RSS
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cxr/model/engine.h"

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
  std::printf("decode gemv 1x4096 @ 32000x4096 bf16 (256 MB): oneDNN %.1f GB/s, engine AVX-512 BF16 %.1f GB/s\n",
              k.onednnGemvGBs, k.engineGemvGBs);
  return 0;
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
  auto r = conv.send(cxr::prompts::kReport, greedy);
  std::printf("report prefill: %d positions in %.2f s = %.1f positions/s\n", r.timings.prefillPositions,
              r.timings.prefillSeconds, r.timings.prefillPositionsPerSecond());
  std::printf("decode: %d tokens in %.2f s = %.2f tokens/s (%.0f ms/token; stop: %s)\n", r.timings.decodeTokens,
              r.timings.decodeSeconds, r.timings.decodeTokensPerSecond(),
              r.timings.decodeTokens ? 1e3 * r.timings.decodeSeconds / r.timings.decodeTokens : 0.0,
              cxr::toString(r.stopReason).c_str());
  if (r.timings.decodeTokens > 0) {
    const double bytesPerToken = double(info.weightBytes);
    std::printf("weights read per token: %.2f GB -> %.1f GB/s effective\n", bytesPerToken / 1e9,
                bytesPerToken * r.timings.decodeTokensPerSecond() / 1e9);
  }
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

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Decode speed against the memory-bandwidth bound, paired step by step: after every decode step
// (a 2-token text prompt, so no prefill to speak of; greedy) the decoder's weights are read once
// (readDecoderWeights), and the step time is compared with that read time taken a moment later.
// The bandwidth of this shared machine drifts by 2x within minutes; pairs taken seconds apart
// see the same machine.
int decodeOnly(const std::string& dir, int threads, int tokens) {
  cxr::LoadOptions opt;
  opt.threads = threads;
  auto model = cxr::Model::load(dir, opt);
  cxr::readDecoderWeights(*model);  // fault the mapping in before anything is timed
  cxr::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.maxNewTokens = tokens + 1;
  std::vector<double> steps, reads, ratios;
  int64_t bytes = 0;
  auto last = Clock::now();
  auto r = cxr::generateFromIds(*model, {1, 13}, nullptr, greedy, [&](const cxr::TokenEvent& ev) {
    const double step = since(last);
    if (ev.index > 0) {  // token 0 comes out of the prefill, not a decode step
      const cxr::WeightReadProbe probe = cxr::readDecoderWeights(*model);
      bytes = probe.bytes;
      steps.push_back(step);
      reads.push_back(probe.seconds);
      ratios.push_back(probe.seconds / step);
      std::printf("  step %2d: %4.0f ms   weights read alone: %4.0f ms (%.1f GB/s)   -> %3.0f%% of the bound\n",
                  ev.index, step * 1e3, probe.seconds * 1e3, probe.gigabytesPerSecond(), 100 * probe.seconds / step);
    }
    last = Clock::now();
    return true;
  });
  if (steps.empty()) {
    std::printf("no decode step was taken (stop: %s)\n", cxr::toString(r.stopReason).c_str());
    return 1;
  }
  const double step = median(steps), read = median(reads);
  std::printf("decode only, %zu steps, %d threads: median %.0f ms/step = %.2f tokens/s (%.1f GB/s of weights)\n",
              steps.size(), threads, step * 1e3, 1 / step, bytes / step / 1e9);
  std::printf("bound: %.2f GB of decoder weights read alone in median %.0f ms (%.1f GB/s) = %.2f tokens/s\n",
              bytes / 1e9, read * 1e3, bytes / read / 1e9, 1 / read);
  std::printf("decode reaches %.0f%% of the memory-bandwidth bound (median of the per-step ratios; min %.0f%%, max %.0f%%)\n",
              100 * median(ratios), 100 * *std::min_element(ratios.begin(), ratios.end()),
              100 * *std::max_element(ratios.begin(), ratios.end()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    int threads = 2, tokens = 16;
    for (int i = 1; i + 1 < argc; ++i) {
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
    std::fprintf(stderr, "usage: bench_engine kernels | write-random DIR TOKENIZER_DIR | run DIR [--threads N] [--tokens N]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_engine: %s\n", e.what());
    return 1;
  }
}
