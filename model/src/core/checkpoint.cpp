#include "core/checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "core/json.h"
#include "core/model_files.h"
#include "core/sha256.h"
#include "core/weight_table.h"

namespace fs = std::filesystem;

namespace cxr::detail {

const char* dtypeName(StoredDType t) {
  switch (t) {
    case StoredDType::BF16: return "BF16";
    case StoredDType::F16: return "F16";
    case StoredDType::F32: return "F32";
  }
  return "?";
}
int dtypeSize(StoredDType t) { return t == StoredDType::F32 ? 4 : 2; }

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, const std::string& shownName,
                                             std::string& error) {
  // A shard is mapped, not read, so its size needs no limit; it must be a regular file (a FIFO
  // would block, /dev/zero would be "read" without end).
  uint64_t size = 0;
  ModelFileError fileError;
  const int fd = openModelFile(path, shownName, 0, size, fileError);
  if (fd < 0) {
    error = fileError.message;
    return nullptr;
  }
  std::shared_ptr<MappedFile> f(new MappedFile);
  f->path_ = path;
  f->size_ = size_t(size);
  if (f->size_ > 0) {
    // Read-only private mapping: the weights live in the page cache once, shared with the OS;
    // any accidental write would fault instead of silently corrupting the model.
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      error = shownName + " cannot be memory-mapped (" + std::strerror(errno) + ")";
      ::close(fd);
      return nullptr;
    }
    f->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return f;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

std::string formatProblems(const std::string& folder, const std::vector<std::string>& problems) {
  std::string msg = "Cannot load the model in " + folder + ": " + std::to_string(problems.size()) +
                    (problems.size() == 1 ? " problem" : " problems") + " found:";
  // A hostile or badly mismatched folder yields 100,000s of problems; the first ones say enough.
  const size_t shown = std::min(problems.size(), kMaxListedProblems);
  for (size_t i = 0; i < shown; ++i) msg += "\n  - " + problems[i];
  if (problems.size() > shown) msg += "\n  - and " + std::to_string(problems.size() - shown) + " more problems";
  return msg;
}

namespace {

bool parseDType(const std::string& s, StoredDType& out) {
  if (s == "BF16") out = StoredDType::BF16;
  else if (s == "F16") out = StoredDType::F16;
  else if (s == "F32") out = StoredDType::F32;
  else return false;
  return true;
}

// Parses one safetensors file's header; every problem is appended, views of well-formed tensors
// go to `out`, and the names of the tensors a problem was reported for go to `reported` (so that
// they are not reported again as missing). Linear in the number of entries (n log n for the
// overlap check): a hostile header may hold 100,000s.
// Returns false when the header itself cannot be read (then no entry of the file is known).
bool readSafetensors(const std::shared_ptr<MappedFile>& file, const std::string& fileName,
                     std::vector<TensorView>& out, std::vector<std::string>& problems,
                     std::set<std::string>& reported) {
  const size_t size = file->size();
  if (size < 8) {
    problems.push_back(fileName + ": the file is " + std::to_string(size) +
                       " bytes long, too short for a safetensors header (truncated download?)");
    return false;
  }
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i) headerLen = (headerLen << 8) | file->data()[i];
  if (headerLen > size - 8) {
    problems.push_back(fileName + ": the header length (" + std::to_string(headerLen) +
                       " bytes) runs past the end of the file (" + std::to_string(size) +
                       " bytes): the file is truncated or not a safetensors file");
    return false;
  }
  if (headerLen > kMaxSafetensorsHeaderBytes) {
    problems.push_back(fileName + ": the header length field says " + std::to_string(headerLen) +
                       " bytes; safetensors headers are at most " + std::to_string(kMaxSafetensorsHeaderBytes) +
                       " bytes (the format's own limit): the file is damaged or not a safetensors file");
    return false;
  }
  JsonParseError jsonError;
  const std::optional<Json> parsed = parseJson(
      std::string_view(reinterpret_cast<const char*>(file->data()) + 8, size_t(headerLen)), jsonError, /*firstByte=*/8);
  if (!parsed) {
    if (jsonError.kind == JsonParseError::Kind::DuplicateKey && jsonError.topLevel)
      problems.push_back(fileName + ": the safetensors header declares tensor '" + jsonError.key +
                         "' twice (which of the two is meant?): the header is corrupt");
    else if (jsonError.kind == JsonParseError::Kind::DuplicateKey)
      problems.push_back(fileName + ": the safetensors header is corrupt: " + jsonError.detail);
    else
      problems.push_back(fileName + ": the safetensors header is not valid JSON (" + jsonError.detail + ")");
    return false;
  }
  const Json& header = *parsed;
  if (!header.is_object()) {
    problems.push_back(fileName + ": the safetensors header is not a JSON object");
    return false;
  }
  const uint8_t* dataStart = file->data() + 8 + headerLen;
  const uint64_t dataSize = size - 8 - headerLen;

  struct Span { uint64_t begin, end; std::string name; };
  std::vector<Span> spans;
  uint64_t maxEnd = 0;
  // One entry: its view goes to `out`, or its problem to `problems`.
  auto readEntry = [&](const std::string& name, const Json& entry) {
    const std::string where = fileName + ": tensor '" + name + "'";
    const Json* dt = jsonMember(entry, "dtype");
    const Json* shape = jsonMember(entry, "shape");
    const Json* offsets = jsonMember(entry, "data_offsets");
    if (!dt || !dt->is_string() || !shape || !shape->is_array() || !offsets || !offsets->is_array() ||
        offsets->size() != 2) {
      problems.push_back(where + " has a malformed header entry (needs dtype, shape, data_offsets)");
      return;
    }
    TensorView v;
    v.name = name;
    v.fileName = fileName;
    bool ok = true;
    for (const auto& d : *shape) {
      const std::optional<int64_t> extent = jsonInt(d);
      if (!extent || *extent < 0) {
        problems.push_back(where + " has a malformed shape");
        ok = false;
        break;
      }
      v.shape.push_back(*extent);
    }
    const std::optional<int64_t> first = jsonInt((*offsets)[0]), last = jsonInt((*offsets)[1]);
    if (!first || !last || *first < 0 || *last < *first) {
      problems.push_back(where + " has malformed data_offsets");
      return;
    }
    const uint64_t begin = uint64_t(*first), end = uint64_t(*last);
    const std::string& dtype = dt->get_ref<const std::string&>();
    spans.push_back({begin, end, name});
    maxEnd = std::max(maxEnd, end);
    if (!parseDType(dtype, v.dtype)) {
      problems.push_back(where + " has dtype " + dtype +
                         "; only BF16, F16 and F32 weights are supported");
      return;
    }
    if (!ok) return;
    uint64_t need = uint64_t(dtypeSize(v.dtype));
    for (const int64_t d : v.shape) {
      if (__builtin_mul_overflow(need, uint64_t(d), &need)) {
        problems.push_back(where + " has shape " + shapeString(v.shape) + ", more bytes than any file holds");
        return;
      }
    }
    if (end - begin != need) {
      problems.push_back(where + ": data_offsets span " + std::to_string(end - begin) +
                         " bytes, but shape " + shapeString(v.shape) + " in " + dtype +
                         " needs " + std::to_string(need) + " bytes");
      return;
    }
    if (end > dataSize) {  // reported once per file below
      reported.insert(name);
      return;
    }
    v.data = dataStart + begin;
    v.bytes = size_t(need);
    out.push_back(std::move(v));
  };
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    const size_t problemsBefore = problems.size();
    readEntry(name, entry);
    if (problems.size() > problemsBefore) reported.insert(name);
  }
  if (maxEnd > dataSize) {
    std::string names;
    int count = 0;
    for (const auto& s : spans) {
      if (s.end <= dataSize) continue;
      if (count < 3) names += std::string(count ? ", " : "") + "'" + s.name + "'";
      ++count;
    }
    if (count > 3) names += " and " + std::to_string(count - 3) + " more";
    problems.push_back(fileName + ": the file is truncated: its header says the tensor data ends at byte " +
                       std::to_string(8 + headerLen + maxEnd) + " but the file has only " +
                       std::to_string(size) + " bytes (tensors cut off: " + names +
                       "); download it again");
  }
  // Each span against the one reaching furthest among those before it: any overlap shows there.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  size_t furthest = 0;
  for (size_t i = 1; i < spans.size(); ++i) {
    const Span& before = spans[furthest];
    if (spans[i].begin < before.end && spans[i].end > spans[i].begin) {
      problems.push_back(fileName + ": the data of tensors '" + before.name + "' and '" + spans[i].name +
                         "' overlap (bytes " + std::to_string(spans[i].begin) + ".." +
                         std::to_string(std::min(before.end, spans[i].end)) + "): the header is corrupt");
      reported.insert(spans[i].name);
    }
    if (spans[i].end > before.end) furthest = i;
  }
  return true;
}

// Why a weight file name taken from the index is not a plain file name of the model folder
// (empty when it is one). The index comes with the download: it must not send the loader to
// ../other/model.safetensors or /etc/passwd.
std::string shardNameProblem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name.find('\0') != std::string::npos) return "contains a NUL character";
  if (name[0] == '/') return "is an absolute path";
  if (name.find('/') != std::string::npos) return "contains a '/' (a path into another folder)";
  if (name == "." || name == "..") return "is not a file name";
  return {};
}

// {2, 3, 4, 7} -> "layers 2..4 and 7 (4 layers)"
std::string rangesText(const std::set<int>& values) {
  std::string text;
  int shownRanges = 0;
  for (auto it = values.begin(); it != values.end();) {
    int first = *it, last = *it;
    for (++it; it != values.end() && *it == last + 1; ++it) last = *it;
    if (++shownRanges > 5) {
      text += ", ...";
      break;
    }
    text += (text.empty() ? "" : ", ") + std::to_string(first) + (last > first ? ".." + std::to_string(last) : "");
  }
  return (values.size() == 1 ? "layer " : "layers ") + text + " (" + std::to_string(values.size()) +
         (values.size() == 1 ? " layer)" : " layers)");
}

bool isIgnorableExtra(const std::string& name) {
  // Older HF LLaMA checkpoints stored the rotary buffer; it is recomputed, never read.
  return name.size() > 22 && name.compare(name.size() - 22, 22, "rotary_emb.inv_freq") == 0;
}

}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& folder, const ModelConfig& config,
                                             const LoadProgress& progress) {
  std::vector<std::string> problems;
  auto ck = open(folder, config, problems, progress);
  if (!ck) throw ModelError(formatProblems(folder, problems));
  return ck;
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& folder, const ModelConfig& config,
                                             std::vector<std::string>& problems,
                                             const LoadProgress& progress) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint);
  const size_t problemsBefore = problems.size();
  const fs::path dir(folder);
  const std::string indexName = "model.safetensors.index.json";
  const fs::path indexPath = dir / indexName;
  const fs::path singlePath = dir / "model.safetensors";

  // Which files hold the weights, and (when sharded) which tensor the index puts in which file.
  std::vector<std::string> shardNames;
  std::map<std::string, std::string> weightMap;
  std::set<std::string> reported;  // tensors a problem was already reported for
  std::error_code ec;
  ModelFileError indexError;
  std::string indexText;
  const std::optional<Json> index = readJsonFile(indexPath.string(), indexName, indexError, &indexText);
  const bool indexRead = index || indexError.kind == ModelFileError::Kind::Malformed;
  if (!indexRead && indexError.kind != ModelFileError::Kind::Missing) {
    problems.push_back(indexError.message);
    return nullptr;
  }
  if (indexRead) {
    ck->indexSha256_ = sha256Hex(indexText.data(), indexText.size());
    const Json* wm = index ? jsonMember(*index, "weight_map") : nullptr;
    if (!index) {
      problems.push_back(indexError.message);
    } else if (!wm || !wm->is_object()) {
      problems.push_back(indexName + " has no \"weight_map\" object");
    } else {
      std::set<std::string> shards;
      for (const auto& [name, shard] : wm->items()) {
        if (!shard.is_string()) {
          problems.push_back(indexName + ": the entry for '" + name + "' is not a file name");
          reported.insert(name);
          continue;
        }
        const std::string& file = shard.get_ref<const std::string&>();
        if (const std::string why = shardNameProblem(file); !why.empty()) {
          problems.push_back(indexName + ": the entry for '" + name + "' names the file " + jsonQuoted(file) +
                             ", which " + why +
                             ": weight files must be plain file names inside the model folder; the "
                             "index is damaged or was edited");
          reported.insert(name);
          continue;
        }
        weightMap[name] = file;
        shards.insert(file);
      }
      shardNames.assign(shards.begin(), shards.end());  // sorted
    }
  } else if (fs::exists(singlePath, ec) || fs::is_symlink(singlePath, ec)) {
    shardNames.push_back("model.safetensors");
  } else {
    bool hasBin = false;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const auto n = e.path().filename().string();
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".bin") == 0) hasBin = true;
    }
    if (hasBin)
      problems.push_back(
          "the folder holds only PyTorch pickle weights (*.bin). Pickle files can run code when opened "
          "and are not read by this program: use the safetensors files instead (model-0000N-of-0000M"
          ".safetensors + model.safetensors.index.json, published in the same model repository)");
    else
      problems.push_back("no weights found: expected model.safetensors or model.safetensors.index.json "
                         "with its model-*.safetensors shards");
    return nullptr;
  }

  // Map and parse every shard.
  std::vector<TensorView> views;
  std::set<std::string> openedShards;
  for (size_t i = 0; i < shardNames.size(); ++i) {
    const auto& name = shardNames[i];
    if (progress && !progress(0.02 + 0.08 * double(i) / double(shardNames.size()), "mapping " + name))
      throw LoadCancelled();
    const fs::path p = dir / name;
    if (!fs::exists(p, ec) && !fs::is_symlink(p, ec)) {
      problems.push_back(indexName + " points to " + name +
                         ", which is missing from the folder (incomplete download?)");
      continue;
    }
    std::string err;
    auto file = MappedFile::open(p.string(), name, err);
    if (!file) {
      problems.push_back(err);
      continue;
    }
    ck->files_.push_back(file);
    ck->fileNames_.push_back(name);
    if (shardNames.size() == 1 && weightMap.empty() && file->size() >= 8) {
      uint64_t len = 0;
      for (int b = 7; b >= 0; --b) len = (len << 8) | file->data()[b];
      if (len <= file->size() - 8) ck->indexSha256_ = sha256Hex(file->data(), size_t(8 + len));
    }
    std::vector<TensorView> fileViews;
    // A shard whose header cannot be read counts as absent: its tensors are not listed one by one.
    if (readSafetensors(file, name, fileViews, problems, reported)) openedShards.insert(name);
    for (auto& v : fileViews) {
      if (!weightMap.empty()) {
        auto it = weightMap.find(v.name);
        if (it == weightMap.end()) {
          problems.push_back(name + ": holds tensor '" + v.name + "', which " + indexName + " does not list");
          reported.insert(v.name);
          continue;
        }
        if (it->second != name) {
          problems.push_back(name + ": holds tensor '" + v.name + "', but the index places it in " + it->second);
          reported.insert(v.name);
          continue;
        }
      }
      views.push_back(std::move(v));
    }
  }

  for (auto& v : views) {
    if (ck->tensors_.count(v.name)) {
      problems.push_back(v.fileName + ": tensor '" + v.name + "' is stored twice (also in " +
                         ck->tensors_.at(v.name).fileName + ")");
      continue;
    }
    ck->tensors_.emplace(v.name, v);
  }
  // Index entries whose shard was read but lacks the tensor.
  for (const auto& [name, shard] : weightMap) {
    if (!ck->tensors_.count(name) && openedShards.count(shard) && !reported.count(name)) {
      problems.push_back(indexName + " places tensor '" + name + "' in " + shard +
                         ", but that file does not contain it");
      reported.insert(name);
    }
  }

  // Layers that config.json claims and the weights do not hold at all: one sentence per stack
  // instead of a dozen missing tensors per layer.
  struct Stack {
    std::string prefix, key;
    int layers;
    std::set<int> absent;
  };
  std::vector<Stack> stacks;
  if (config.kind == ModelKind::CxrLlava)
    stacks.push_back({visionLayersPrefix(), "clip_vision_cfg.layers", config.vision.layers, {}});
  stacks.push_back({llamaLayersPrefix(config),
                    (config.kind == ModelKind::CxrLlava ? "llama." : "") + std::string("num_hidden_layers"),
                    config.llama.layers, {}});
  for (auto& st : stacks) {
    for (int i = 0; i < st.layers; ++i) {
      const std::string layerPrefix = st.prefix + std::to_string(i) + ".";
      auto it = ck->tensors_.lower_bound(layerPrefix);
      const bool any = it != ck->tensors_.end() && it->first.compare(0, layerPrefix.size(), layerPrefix) == 0;
      if (!any) st.absent.insert(i);
    }
    if (st.absent.empty()) continue;
    problems.push_back("config.json: " + st.key + " is " + std::to_string(st.layers) +
                       ", but the weights hold no tensor of " + rangesText(st.absent) +
                       ": config.json does not belong to these weights (or shards are missing)");
  }
  auto inAbsentLayer = [&](const std::string& name) {
    for (const auto& st : stacks) {
      if (st.absent.empty() || name.compare(0, st.prefix.size(), st.prefix) != 0) continue;
      const int layer = std::atoi(name.c_str() + st.prefix.size());
      if (st.absent.count(layer)) return true;
    }
    return false;
  };

  // Against the expected-tensor table: missing, unexpected, wrong shape.
  std::set<std::string> expectedNames;
  for (const auto& e : expectedTensors(config)) {
    expectedNames.insert(e.name);
    auto it = ck->tensors_.find(e.name);
    if (it == ck->tensors_.end()) {
      // already reported as malformed / truncated / misplaced, or its shard or layer is missing
      const bool knownBroken = reported.count(e.name) > 0 || inAbsentLayer(e.name);
      auto shard = weightMap.find(e.name);
      const bool inMissingShard = shard != weightMap.end() && !openedShards.count(shard->second);
      if (!e.optional && !knownBroken && !inMissingShard)
        problems.push_back("tensor '" + e.name + "' is missing (expected shape " + shapeString(e.shape) + ")");
      continue;
    }
    if (it->second.shape != e.shape)
      problems.push_back(it->second.fileName + ": tensor '" + e.name + "' has shape " +
                         shapeString(it->second.shape) + ", expected " + shapeString(e.shape) +
                         " from config.json");
  }
  for (const auto& [name, v] : ck->tensors_) {
    if (!expectedNames.count(name) && !isIgnorableExtra(name))
      problems.push_back(v.fileName + ": unexpected tensor '" + name + "' " + shapeString(v.shape) +
                         " (not part of this model: a different architecture, or config.json does not "
                         "match the weights)");
  }

  if (problems.size() > problemsBefore) return nullptr;

  for (const auto& [name, v] : ck->tensors_) {
    ck->weightBytes_ += int64_t(v.bytes);
    ck->parameters_ += v.numel();
  }
  return ck;
}

void Checkpoint::releaseResidentPages(const std::string& namePrefix) const {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  for (auto it = tensors_.lower_bound(namePrefix); it != tensors_.end() && it->first.rfind(namePrefix, 0) == 0; ++it) {
    // Whole pages only: a page shared with a neighbouring tensor stays.
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(it->second.data) + page - 1) / page * page;
    const uintptr_t end = (reinterpret_cast<uintptr_t>(it->second.data) + it->second.bytes) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& Checkpoint::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw ModelError("tensor '" + name + "' is not in the checkpoint");
  return it->second;
}

std::string Checkpoint::storedDtypeSummary() const {
  std::set<std::string> kinds;
  for (const auto& [n, v] : tensors_) kinds.insert(dtypeName(v.dtype));
  std::string s;
  for (const auto& k : kinds) s += (s.empty() ? "" : "+") + k;
  return s;
}

}  // namespace cxr::detail
