// The weight files of a model folder: safetensors (single file or sharded through
// model.safetensors.index.json), memory-mapped read-only and validated completely against the
// expected-tensor table before anything uses them. No torch: the engine wraps the views itself.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "cxr/model/types.h"

namespace cxr::detail {

enum class StoredDType { BF16, F16, F32 };
const char* dtypeName(StoredDType t);
int dtypeSize(StoredDType t);

// One read-only mmap of a whole file; unmapped when the last view is gone.
class MappedFile {
 public:
  // Only a regular file (links followed) is mapped; `error` is a sentence naming `shownName`.
  static std::shared_ptr<MappedFile> open(const std::string& path, const std::string& shownName,
                                          std::string& error);
  ~MappedFile();
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

struct TensorView {
  std::string name;
  std::string fileName;  // shard file name (for messages)
  StoredDType dtype = StoredDType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // inside the mapping
  size_t bytes = 0;
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

class Checkpoint {
 public:
  // Opens every weight file of `folder`, checks it against `config`'s expected-tensor table and
  // throws cxr::ModelError listing EVERY problem found (file + tensor + what). The progress
  // callback is asked between files; returning false throws LoadCancelled.
  static std::unique_ptr<Checkpoint> open(const std::string& folder, const ModelConfig& config,
                                          const LoadProgress& progress = {});
  // The same, but the problems are appended to `problems` (nullptr returned) so that the caller
  // can add its own (tokenizer) before reporting them all together.
  static std::unique_ptr<Checkpoint> open(const std::string& folder, const ModelConfig& config,
                                          std::vector<std::string>& problems,
                                          const LoadProgress& progress = {});

  const TensorView& tensor(const std::string& name) const;  // throws ModelError if absent
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }

  // Drops from this process's resident set the mapped pages that lie wholly inside the tensors whose
  // names start with `namePrefix` (the file stays in the page cache; the next read faults them back
  // in). For weights needed in bursts: the vision tower runs once per image, then its 0.6 GB at 7B
  // would sit in the resident set beside the decoder for the rest of the conversation. Safe while
  // tensors view these pages: the mapping is read-only and file-backed, so nothing is lost.
  void releaseResidentPages(const std::string& namePrefix) const;

  int64_t weightBytes() const { return weightBytes_; }
  int64_t parameterCount() const { return parameters_; }
  std::string storedDtypeSummary() const;  // "BF16" or "BF16+F32"
  const std::string& indexSha256() const { return indexSha256_; }
  const std::vector<std::string>& fileNames() const { return fileNames_; }

 private:
  std::vector<std::shared_ptr<MappedFile>> files_;  // keeps the mappings alive
  std::vector<std::string> fileNames_;
  std::map<std::string, TensorView> tensors_;
  int64_t weightBytes_ = 0, parameters_ = 0;
  std::string indexSha256_;
};

// "Cannot load the model in FOLDER: N problems found:\n  - a\n  - b", listing the first
// kMaxListedProblems and then "and N more problems".
constexpr size_t kMaxListedProblems = 20;
std::string formatProblems(const std::string& folder, const std::vector<std::string>& problems);

}  // namespace cxr::detail
