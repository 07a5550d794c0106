#include "core/checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cxr/model/json.h"
#include "core/sha256.h"

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

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  std::shared_ptr<MappedFile> f(new MappedFile);
  f->path_ = path;
  f->size_ = size_t(st.st_size);
  if (f->size_ > 0) {
    // Read-only private mapping: the weights live in the page cache once, shared with the OS;
    // any accidental write would fault instead of silently corrupting the model.
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      error = std::string("cannot memory-map it: ") + std::strerror(errno);
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
  for (const auto& p : problems) msg += "\n  - " + p;
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
// go to `out`.
void readSafetensors(const std::shared_ptr<MappedFile>& file, const std::string& fileName,
                     std::vector<TensorView>& out, std::vector<std::string>& problems) {
  const size_t size = file->size();
  if (size < 8) {
    problems.push_back(fileName + ": the file is " + std::to_string(size) +
                       " bytes long, too short for a safetensors header (truncated download?)");
    return;
  }
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i) headerLen = (headerLen << 8) | file->data()[i];
  if (headerLen > size - 8) {
    problems.push_back(fileName + ": the header length (" + std::to_string(headerLen) +
                       " bytes) runs past the end of the file (" + std::to_string(size) +
                       " bytes): the file is truncated or not a safetensors file");
    return;
  }
  Json header;
  try {
    header = Json::parse(std::string_view(reinterpret_cast<const char*>(file->data()) + 8, headerLen));
  } catch (const JsonError& e) {
    problems.push_back(fileName + ": the safetensors header is not valid JSON (" + e.what() + ")");
    return;
  }
  if (!header.isObject()) {
    problems.push_back(fileName + ": the safetensors header is not a JSON object");
    return;
  }
  const uint8_t* dataStart = file->data() + 8 + headerLen;
  const uint64_t dataSize = size - 8 - headerLen;

  struct Span { uint64_t begin, end; std::string name; };
  std::vector<Span> spans;
  uint64_t maxEnd = 0;
  for (const auto& [name, entry] : header.asObject()) {
    if (name == "__metadata__") continue;
    const std::string where = fileName + ": tensor '" + name + "'";
    const Json* dt = entry.find("dtype");
    const Json* shape = entry.find("shape");
    const Json* offsets = entry.find("data_offsets");
    if (!entry.isObject() || !dt || !dt->isString() || !shape || !shape->isArray() || !offsets ||
        !offsets->isArray() || offsets->asArray().size() != 2) {
      problems.push_back(where + " has a malformed header entry (needs dtype, shape, data_offsets)");
      continue;
    }
    TensorView v;
    v.name = name;
    v.fileName = fileName;
    bool ok = true;
    for (const auto& d : shape->asArray()) {
      if (!d.isInteger() || d.asInt() < 0) {
        problems.push_back(where + " has a malformed shape");
        ok = false;
        break;
      }
      v.shape.push_back(d.asInt());
    }
    const auto& o = offsets->asArray();
    if (!o[0].isInteger() || !o[1].isInteger() || o[0].asInt() < 0 || o[1].asInt() < o[0].asInt()) {
      problems.push_back(where + " has malformed data_offsets");
      continue;
    }
    const uint64_t begin = uint64_t(o[0].asInt()), end = uint64_t(o[1].asInt());
    spans.push_back({begin, end, name});
    maxEnd = std::max(maxEnd, end);
    if (!parseDType(dt->asString(), v.dtype)) {
      problems.push_back(where + " has dtype " + dt->asString() +
                         "; only BF16, F16 and F32 weights are supported");
      continue;
    }
    if (!ok) continue;
    const uint64_t need = uint64_t(v.numel()) * uint64_t(dtypeSize(v.dtype));
    if (end - begin != need) {
      problems.push_back(where + ": data_offsets span " + std::to_string(end - begin) +
                         " bytes, but shape " + shapeString(v.shape) + " in " + dt->asString() +
                         " needs " + std::to_string(need) + " bytes");
      continue;
    }
    if (end > dataSize) continue;  // reported once per file below
    v.data = dataStart + begin;
    v.bytes = size_t(need);
    out.push_back(std::move(v));
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
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].begin < spans[i - 1].end && spans[i].end > spans[i].begin)
      problems.push_back(fileName + ": the data of tensors '" + spans[i - 1].name + "' and '" + spans[i].name +
                         "' overlap (bytes " + std::to_string(spans[i].begin) + ".." +
                         std::to_string(spans[i - 1].end) + "): the header is corrupt");
  }
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
  const fs::path indexPath = dir / "model.safetensors.index.json";
  const fs::path singlePath = dir / "model.safetensors";

  // Which files hold the weights, and (when sharded) which tensor the index puts in which file.
  std::vector<std::string> shardNames;
  std::map<std::string, std::string> weightMap;
  std::error_code ec;
  if (fs::exists(indexPath, ec)) {
    std::ifstream in(indexPath, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    ck->indexSha256_ = sha256Hex(ss.str().data(), ss.str().size());
    try {
      Json index = Json::parse(ss.str());
      const Json* wm = index.find("weight_map");
      if (!wm || !wm->isObject()) {
        problems.push_back("model.safetensors.index.json has no \"weight_map\" object");
      } else {
        for (const auto& [name, shard] : wm->asObject()) {
          if (!shard.isString()) {
            problems.push_back("model.safetensors.index.json: the entry for '" + name + "' is not a file name");
            continue;
          }
          weightMap[name] = shard.asString();
          if (std::find(shardNames.begin(), shardNames.end(), shard.asString()) == shardNames.end())
            shardNames.push_back(shard.asString());
        }
      }
    } catch (const JsonError& e) {
      problems.push_back("model.safetensors.index.json is not valid JSON (" + std::string(e.what()) + ")");
    }
    std::sort(shardNames.begin(), shardNames.end());
  } else if (fs::exists(singlePath, ec)) {
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
  for (size_t i = 0; i < shardNames.size(); ++i) {
    const auto& name = shardNames[i];
    if (progress && !progress(0.02 + 0.08 * double(i) / double(shardNames.size()), "mapping " + name))
      throw LoadCancelled();
    const fs::path p = dir / name;
    if (!fs::exists(p, ec)) {
      problems.push_back("model.safetensors.index.json points to " + name +
                         ", which is missing from the folder (incomplete download?)");
      continue;
    }
    std::string err;
    auto file = MappedFile::open(p.string(), err);
    if (!file) {
      problems.push_back(name + ": cannot be opened (" + err + ")");
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
    readSafetensors(file, name, fileViews, problems);
    for (auto& v : fileViews) {
      if (!weightMap.empty()) {
        auto it = weightMap.find(v.name);
        if (it == weightMap.end()) {
          problems.push_back(name + ": holds tensor '" + v.name + "', which model.safetensors.index.json does not list");
          continue;
        }
        if (it->second != name) {
          problems.push_back(name + ": holds tensor '" + v.name + "', but the index places it in " + it->second);
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
  // Index entries whose shard exists but lacks the tensor.
  for (const auto& [name, shard] : weightMap) {
    if (!ck->tensors_.count(name) && fs::exists(dir / shard, ec) &&
        std::find(ck->fileNames_.begin(), ck->fileNames_.end(), shard) != ck->fileNames_.end()) {
      bool reported = false;
      for (const auto& p : problems)
        if (p.find("'" + name + "'") != std::string::npos) reported = true;
      if (!reported)
        problems.push_back("model.safetensors.index.json places tensor '" + name + "' in " + shard +
                           ", but that file does not contain it");
    }
  }

  // Against the expected-tensor table: missing, unexpected, wrong shape.
  std::set<std::string> expectedNames;
  for (const auto& e : expectedTensors(config)) {
    expectedNames.insert(e.name);
    auto it = ck->tensors_.find(e.name);
    if (it == ck->tensors_.end()) {
      bool knownBroken = false;  // already reported as malformed / truncated / misplaced
      for (const auto& p : problems)
        if (p.find("'" + e.name + "'") != std::string::npos) knownBroken = true;
      const bool inMissingShard = weightMap.count(e.name) && !fs::exists(dir / weightMap[e.name], ec);
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
