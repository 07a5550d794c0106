// cxr-llava: the command-line client of the CXR-LLaVA engine (model/) and, for reading DICOM and
// 16-bit images, of the viewer's imaging library. Exit status 0 on success; otherwise one line on
// stderr saying what went wrong (inspect prints every validation problem).
#include <cstdio>
#include <exception>
#include <string>

#include "cli_options.h"
#include "commands.h"
#include "cxr/model/engine.h"

namespace {

// Validation errors list one problem per line; a failed command reports them on one line.
std::string oneLine(std::string message) {
  while (!message.empty() && message.back() == '\n') message.pop_back();
  for (size_t pos = 0; (pos = message.find('\n', pos)) != std::string::npos;) message.replace(pos, 1, "; ");
  return message;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = cxr::cli::parseOptions(argc, argv);
  if (parsed.help) {
    std::fputs(cxr::cli::usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "cxr-llava: %s\n", parsed.error.c_str());
    return 2;
  }
  const bool inspect = parsed.options.command == "inspect";
  try {
    return cxr::cli::runCommand(parsed.options);
  } catch (const cxr::LoadCancelled& e) {
    std::fprintf(stderr, "cxr-llava: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    const std::string message = inspect ? std::string(e.what()) : oneLine(e.what());
    std::fprintf(stderr, "cxr-llava: %s\n", message.c_str());
    return 1;
  }
}
