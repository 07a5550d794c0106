// Command-line options of cxr-llava: one struct, filled by parseOptions, validated there so that
// every command can trust it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cxr/model/engine.h"

namespace cxr::cli {

struct Options {
  std::string command;  // report, differential, ask, chat, generate, inspect, bench, perplexity, quantize,
                        // make-random-checkpoint
  std::string model;    // --model; empty: discoverModelFolder()
  std::string image;    // --image
  std::string question; // --question (ask)
  std::string prompt;   // --prompt (generate)
  std::optional<std::vector<int32_t>> promptIds;  // --prompt-ids 1,-200,13
  std::string dumpDir;  // --dump-dir
  bool json = false;    // --json
  bool quiet = false;   // --quiet: no load progress on stderr
  bool dropOldTurns = false;  // --drop-old-turns (chat): forget the oldest exchanges when a turn does not fit
  cxr::SamplingParams sampling;
  cxr::LoadOptions load;
  // The image's pixel budget (megapixels per frame and per file), checked from the file's header
  // before decoding; see cxr::viewer::LoadOptions.
  double maxImageMegapixels = 50;
  double maxFileMegapixels = 500;  // when not given: at least maxImageMegapixels
  // make-random-checkpoint
  std::string preset = "7b";
  std::string checkpointDtype = "bf16";
  std::string out;
  std::string tokenizerFrom;
  uint64_t checkpointSeed = 0;
  // bench
  int benchDecodeTokens = 32;
  bool benchBusyCore = false;  // --busy-core: decode idle and beside a one-core busy loop
  // perplexity
  std::string textFile;    // --text FILE
  int perplexityChunk = 0; // --chunk N (0: min(512, the model's context))
};

struct ParseResult {
  Options options;
  bool help = false;
  std::string error;  // non-empty: a one-line usage error
};

ParseResult parseOptions(int argc, char** argv);
std::string usage();

// "1,-200,13" -> ids; nullopt on anything else.
std::optional<std::vector<int32_t>> parseIdList(const std::string& text);

}  // namespace cxr::cli
