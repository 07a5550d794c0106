// The cxr-llava commands. Each returns the process exit status; errors are thrown as
// std::runtime_error / cxr::ModelError and turned into one line on stderr by main().
#pragma once

#include <cstdint>
#include <string>

#include "cli_options.h"

namespace cxr::cli {

int runCommand(const Options& options);

// Peak resident set size of this process (VmHWM from /proc/self/status), 0 if unknown.
int64_t peakRssBytes();
// A "Key: N kB" line of /proc/self/status in bytes (RssFile, RssAnon, ...), 0 if absent.
int64_t statusBytes(const std::string& key);

}  // namespace cxr::cli
