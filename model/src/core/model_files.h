// Opening the files of a model folder safely. A model folder comes from the user (a download, a
// copy, a network share), so any of its names may be a named pipe, a device, a socket, a folder or
// a link to one: opening such a "file" the usual way blocks forever (a FIFO) or reads without end
// (/dev/zero). Every file the engine reads from a model folder goes through here: it is opened
// without blocking, must be a regular file after links are resolved, and must fit the size limit
// of its kind. The messages name the file and say what is wrong with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cxr::detail {

// Size limits per kind of file. The real files are far smaller (config.json 3.4 kB, the index
// 52 kB, tokenizer_config.json 1 kB, tokenizer.model 500 kB); the limits are generous, and only
// refuse what cannot be such a file.
constexpr uint64_t kMaxJsonFileBytes = uint64_t(16) << 20;       // config.json, the index, tokenizer_config.json
constexpr uint64_t kMaxTokenizerModelBytes = uint64_t(16) << 20;  // tokenizer.model (sentencepiece)
// safetensors' reference implementation refuses headers above 100,000,000 bytes (MAX_HEADER_SIZE).
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct ModelFileError {
  enum class Kind { Missing, NotRegular, TooLarge, Unreadable, Malformed };  // Malformed: not valid JSON
  Kind kind = Kind::Unreadable;
  std::string message;  // one sentence, starting with the shown name
};

// Opens `path` read-only, never blocking: refuses anything that is not a regular file after links
// are resolved (checked with stat before opening and with fstat on the opened descriptor, so that
// a swap in between is caught too) and files above `maxBytes` (0: no limit). Returns the
// descriptor (the caller closes it) and its size, or -1 with `error` set. `shownName` is how the
// messages name the file ("config.json").
int openModelFile(const std::string& path, const std::string& shownName, uint64_t maxBytes,
                  uint64_t& size, ModelFileError& error);

// The whole file as bytes, with the same checks; nullopt with `error` set.
std::optional<std::string> readModelFile(const std::string& path, const std::string& shownName,
                                         uint64_t maxBytes, ModelFileError& error);

// The same checks without reading (for a file that another library opens by name).
bool checkModelFile(const std::string& path, const std::string& shownName, uint64_t maxBytes,
                    ModelFileError& error);

// "17.0 MiB (17825792 bytes)"
std::string byteSize(uint64_t bytes);

}  // namespace cxr::detail
