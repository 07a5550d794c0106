#include "cli_options.h"

#ifdef CXR_CLI_WITH_IMAGING
#include "cxr/viewer/radiograph.h"
#endif

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <set>

namespace cxr::cli {

namespace {

const std::set<std::string> kCommands = {"report", "differential", "ask",      "chat",     "generate",
                                         "inspect", "bench",        "perplexity", "quantize", "make-random-checkpoint"};

template <typename T>
bool parseNumber(const std::string& text, T& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

// "--top-p 'nan' is not accepted: use a number above 0 and at most 1".
std::string badValue(const std::string& option, const std::string& value, const std::string& range) {
  return option + " '" + value + "' is not accepted: use " + range;
}

std::string shortNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

bool parseFloat(const std::string& text, float& out) {
  try {
    size_t used = 0;
    out = std::stof(text, &used);
    return used == text.size();
  } catch (...) {
    return false;
  }
}

}  // namespace

std::optional<std::vector<int32_t>> parseIdList(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    int32_t id = 0;
    if (!parseNumber(item, id)) return std::nullopt;
    ids.push_back(id);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (ids.empty()) return std::nullopt;
  return ids;
}

std::string usage() {
  return R"(Usage: cxr-llava COMMAND [OPTIONS]

Commands:
  report        --image FILE      write a radiologic report (the reference's stock prompt)
  differential  --image FILE      list possible differential diagnoses
  ask           --image FILE --question TEXT
  chat          [--image FILE]    multi-turn: one user message per stdin line (empty line ends);
                [--drop-old-turns] a turn that does not fit the context is refused (exit status 1
                                  at the end), or with this option the oldest exchanges are dropped
  generate      --prompt TEXT     text-only generation (plain LlamaForCausalLM folders too)
  inspect                         validate a model folder and print a summary (exit 0 = loads)
  bench         [--image FILE]    load / vision / prefill / decode / follow-up / second-prompt
                [--busy-core]     timings, peak RSS; --busy-core: decode again with a one-core
                                  busy loop beside it, and its ratio to the idle decode
  perplexity    --text FILE       teacher-forced perplexity of a text (as llama.cpp's llama-perplexity:
                [--chunk N]       chunks of N tokens, default min(512, context), the second half of
                                  each chunk scored)
  quantize      --weights int8|int4  make the quantized weights cache of --model now (else the first
                                  load with those weights makes it)
  make-random-checkpoint --out DIR [--preset 7b|tiny] [--dtype bf16|f16|f32]
                         [--tokenizer-from DIR] [--checkpoint-seed N]

Options:
  --model DIR           model folder (default: $CXR_LLAVA_MODEL, else the Hugging Face cache)
  --temperature T       0 to 5, default 0.2 (<= 0.001: greedy)   --top-p P  above 0 to 1, default 0.8
  --top-k K             default 50 (0: off)                 --seed N    default: random, reported
  --max-new-tokens N    1 to 65536; default: min(512, context - prompt - 1). A prompt that leaves
                        the answer less than 16 tokens (or N, if smaller) is refused
  --device cpu|cuda[:N] --dtype auto|bf16|f16|f32           --threads N (0: physical cores)
  --weights bf16|int8|int4|auto  the LLaMA decoder's weights: bf16 as stored (the reference's
                        precision), int8 or int4 blocks (made once into ~/.cache/cxr-assistant).
                        Default auto: bf16 unless the available memory cannot hold it + 1.5 GiB
  --max-image-megapixels N  images larger than N megapixels per frame are refused from their
                        header, before decoding (default 50)   --max-file-megapixels N  all frames
                        of a multi-frame DICOM (default 500)
  --prefix-cache N      images whose shared prompt prefix (system prompt + image, the first
                        1,066 positions of every prompt) stays cached for the next prompt on the
                        same image: 0 (off) to 64, default 2 for bench, 0 for the commands of
                        one conversation (report, differential, ask, generate, chat: no later
                        prompt would use it); 559 MB each at the 7B shapes
  --json                print one JSON object (text, ids, stop reason, seed, timings, peak RSS)
  --prompt-ids LIST     raw prompt ids, e.g. 1,-200,13 (-200 = the image)
  --dump-dir DIR        write crop_uint8.png, pixel_values.f32le, image_embeddings.f32le,
                        first_logits.f32le and shapes.json
  --bench-tokens N      tokens decoded by bench (default 32)
  --quiet               no progress on stderr
  -h, --help

Environment:
  CXR_CPU_LEVEL=avx2    run as on a CPU without AVX-512: the kernels' AVX2 variants, bf16 matrix
                        products in fp32 compute (inspect, bench and --json report `cpu_level`)
)";
}

ParseResult parseOptions(int argc, char** argv) {
  ParseResult r;
  Options& o = r.options;
  std::vector<std::string> args(argv + 1, argv + argc);
  bool fileMegapixelsGiven = false;
  bool prefixCacheGiven = false;
  auto fail = [&](const std::string& message) {
    r.error = message;
    return r;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      r.help = true;
      return r;
    }
    if (a.rfind("--", 0) != 0) {
      if (!o.command.empty()) return fail("unexpected argument '" + a + "' (one command only)");
      if (!kCommands.count(a)) return fail("unknown command '" + a + "' (see cxr-llava --help)");
      o.command = a;
      continue;
    }
    // Flags without a value.
    if (a == "--json") { o.json = true; continue; }
    if (a == "--quiet") { o.quiet = true; continue; }
    if (a == "--drop-old-turns") { o.dropOldTurns = true; continue; }
    if (a == "--busy-core") { o.benchBusyCore = true; continue; }
    if (i + 1 >= args.size()) return fail(a + " needs a value");
    const std::string v = args[++i];
    if (a == "--model") o.model = v;
    else if (a == "--image") o.image = v;
    else if (a == "--question") o.question = v;
    else if (a == "--prompt") o.prompt = v;
    else if (a == "--dump-dir") o.dumpDir = v;
    else if (a == "--device") o.load.device = v;
    else if (a == "--out") o.out = v;
    else if (a == "--preset") o.preset = v;
    else if (a == "--tokenizer-from") o.tokenizerFrom = v;
    else if (a == "--dtype") { o.load.dtype = v; o.checkpointDtype = v; }
    else if (a == "--text") o.textFile = v;
    else if (a == "--weights") {
      if (const std::string problem = cxr::checkWeightsChoice(v); !problem.empty() || v.empty())
        return fail(badValue(a, v, "bf16, int8, int4 or auto"));
      o.load.weights = v;
    } else if (a == "--chunk") {
      if (!parseNumber(v, o.perplexityChunk) || o.perplexityChunk < 4)
        return fail(badValue(a, v, "a whole number of tokens from 4 (up to the model's context)"));
    }
    else if (a == "--prompt-ids") {
      o.promptIds = parseIdList(v);
      if (!o.promptIds) return fail("--prompt-ids wants comma-separated integers such as 1,-200,13, not '" + v + "'");
    } else if (a == "--temperature") {
      auto& t = o.sampling.temperature;
      if (!parseFloat(v, t) || !std::isfinite(t) || t < 0 || t > cxr::SamplingParams::kMaxTemperature)
        return fail(badValue(a, v, "a number from 0 (greedy) to " + shortNumber(cxr::SamplingParams::kMaxTemperature)));
    } else if (a == "--top-p") {
      auto& p = o.sampling.topP;
      if (!parseFloat(v, p) || !std::isfinite(p) || p <= 0 || p > 1)
        return fail(badValue(a, v, "a number above 0 and at most 1"));
    } else if (a == "--top-k") {
      if (!parseNumber(v, o.sampling.topK) || o.sampling.topK < 0)
        return fail(badValue(a, v, "a whole number from 0 (off) to " + std::to_string(std::numeric_limits<int>::max())));
    } else if (a == "--seed") {
      uint64_t seed = 0;
      if (!parseNumber(v, seed))
        return fail(badValue(a, v, "a whole number from 0 to " + std::to_string(std::numeric_limits<uint64_t>::max())));
      o.sampling.seed = seed;
    } else if (a == "--checkpoint-seed") {
      if (!parseNumber(v, o.checkpointSeed))
        return fail(badValue(a, v, "a whole number from 0 to " + std::to_string(std::numeric_limits<uint64_t>::max())));
    } else if (a == "--max-new-tokens") {
      auto& n = o.sampling.maxNewTokens;
      if (!parseNumber(v, n) || n < 1 || n > cxr::SamplingParams::kMaxNewTokens)
        return fail(badValue(a, v, "a whole number from 1 to " + std::to_string(cxr::SamplingParams::kMaxNewTokens) +
                                       " (leave it out for the reference's min(512, context - prompt - 1))"));
    } else if (a == "--threads") {
      // The upper bound depends on the machine: Model::load checks it.
      if (!parseNumber(v, o.load.threads) || o.load.threads < 0)
        return fail(badValue(a, v, "a whole number from 1, or 0 for the number of physical cores"));
    } else if (a == "--max-image-megapixels" || a == "--max-file-megapixels") {
      float megapixels = 0;
      if (!parseFloat(v, megapixels) || !std::isfinite(megapixels) || megapixels <= 0)
        return fail(badValue(a, v, "a number of megapixels above 0"));
      (a == "--max-image-megapixels" ? o.maxImageMegapixels : o.maxFileMegapixels) = megapixels;
      fileMegapixelsGiven = fileMegapixelsGiven || a == "--max-file-megapixels";
    } else if (a == "--prefix-cache") {
      prefixCacheGiven = true;
      auto& n = o.load.prefixCacheImages;
      if (!parseNumber(v, n) || n < 0 || n > cxr::LoadOptions::kMaxPrefixCacheImages)
        return fail(badValue(a, v, "a whole number from 0 (off) to " + std::to_string(cxr::LoadOptions::kMaxPrefixCacheImages)));
    } else if (a == "--bench-tokens") {
      if (!parseNumber(v, o.benchDecodeTokens) || o.benchDecodeTokens < 1 ||
          o.benchDecodeTokens > cxr::SamplingParams::kMaxNewTokens)
        return fail(badValue(a, v, "a whole number from 1 to " + std::to_string(cxr::SamplingParams::kMaxNewTokens)));
    } else {
      return fail("unknown option '" + a + "' (see cxr-llava --help)");
    }
  }
  if (o.command.empty()) return fail("no command given (report, differential, ask, chat, generate, inspect, bench, perplexity, quantize, "
                                       "make-random-checkpoint)");
  const bool needsImage = o.command == "report" || o.command == "differential" || o.command == "ask";
  if (needsImage && o.image.empty() && !(o.promptIds && o.command == "report"))
    return fail(o.command + " needs --image FILE");
  if (o.command == "ask" && o.question.empty() && !o.promptIds) return fail("ask needs --question TEXT");
  if (o.command == "generate" && o.prompt.empty() && !o.promptIds) return fail("generate needs --prompt TEXT or --prompt-ids");
  if (o.command == "make-random-checkpoint" && o.out.empty()) return fail("make-random-checkpoint needs --out DIR");
  if (o.command == "perplexity" && o.textFile.empty()) return fail("perplexity needs --text FILE");
  if (o.command == "quantize" && o.load.weights != "int8" && o.load.weights != "int4")
    return fail("quantize needs --weights int8 or --weights int4");
  if (!fileMegapixelsGiven) o.maxFileMegapixels = std::max(o.maxFileMegapixels, o.maxImageMegapixels);
  // One conversation and exit: keeping the image's prefix would copy it after the answer (~0.55 GB
  // at 7B: a third of a GiB more peak RSS and ~0.5 s before exit, measured with int4) for nothing.
  const bool oneConversation = o.command == "report" || o.command == "differential" || o.command == "ask" ||
                               o.command == "generate" || o.command == "chat";
  if (oneConversation && !prefixCacheGiven) o.load.prefixCacheImages = 0;
#ifdef CXR_CLI_WITH_IMAGING
  cxr::viewer::LoadOptions budget;
  if (const QString problem = cxr::viewer::setPixelBudget(budget, o.maxImageMegapixels, o.maxFileMegapixels);
      !problem.isEmpty())
    return fail("--max-image-megapixels / --max-file-megapixels: " + problem.toStdString());
#endif
  if (o.dropOldTurns && o.command != "chat") return fail("--drop-old-turns is only used with chat");
  return r;
}

}  // namespace cxr::cli
