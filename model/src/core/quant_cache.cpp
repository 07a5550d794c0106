#include "core/quant_cache.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <set>
#include <sstream>

#include "core/bf16.h"
#include "core/quant_kernels.h"
#include "core/sha256.h"
#include "core/weight_table.h"

namespace fs = std::filesystem;

namespace cxr::detail {

namespace {

constexpr char kMagic[8] = {'C', 'X', 'R', 'Q', 'U', 'A', 'N', 'T'};
// The identity's version: part of the file's name (quantCachePath), so it stays 1; how the blocks
// are laid out has its own version in the header.
constexpr uint32_t kVersion = 1;
// The layout of the blocks (the header's version): int4 moved to groups of four blocks in layout 2
// (quant_format.h). A file of another layout is made again in place, under the same name, rather
// than left beside a new one (a 7B int4 file holds 4.2 GB).
uint32_t layoutVersion(QuantFormat format) { return format == QuantFormat::Int4 ? 2 : 1; }
constexpr char kOtherLayout[] = "made by another version of the program";
constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kAlign = 4096;

uint64_t alignUp(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void putText(std::string& out, const std::string& s) {
  put<uint32_t>(out, uint32_t(s.size()));
  out += s;
}

// Reads fixed-size values and length-prefixed texts from the table, refusing to run past its end.
class Reader {
 public:
  Reader(const uint8_t* p, uint64_t size) : p_(p), size_(size) {}
  template <typename T>
  bool get(T& v) {
    if (size_ - pos_ < sizeof v) return false;
    std::memcpy(&v, p_ + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  bool getText(std::string& s) {
    uint32_t n = 0;
    if (!get(n) || size_ - pos_ < n) return false;
    s.assign(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* p_;
  uint64_t size_, pos_ = 0;
};

std::string identityText(const std::string& folder, const ModelConfig& config, const Checkpoint& checkpoint,
                         QuantFormat format) {
  std::ostringstream id;
  id << "cxr-assistant quantized weights v" << kVersion << "\nformat " << toString(format) << "\nconfig "
     << config.configSha256 << "\nindex " << checkpoint.indexSha256() << "\n";
  for (const std::string& name : checkpoint.fileNames()) {
    struct stat st {};
    const std::string path = (fs::path(folder) / name).string();
    if (::stat(path.c_str(), &st) == 0)
      id << "file " << name << " " << st.st_size << " " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << "\n";
    else
      id << "file " << name << " ?\n";
  }
  return id.str();
}

void readRowAsFloat(const TensorView& v, int64_t row, int64_t cols, float* out) {
  const uint8_t* p = v.data + size_t(row * cols) * size_t(dtypeSize(v.dtype));
  switch (v.dtype) {
    case StoredDType::BF16:
      for (int64_t i = 0; i < cols; ++i) {
        uint16_t b;
        std::memcpy(&b, p + 2 * i, 2);
        out[i] = bf16ToFloat(b);
      }
      break;
    case StoredDType::F16:
      for (int64_t i = 0; i < cols; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = halfToFloat(h);
      }
      break;
    case StoredDType::F32: std::memcpy(out, p, size_t(cols) * 4); break;
  }
}

// The source pages were needed once: drop them from this process's resident set (the file stays in
// the page cache), so that making the cache does not leave the whole bf16 model resident.
void releasePages(const TensorView& v) {
  const long page = sysconf(_SC_PAGESIZE);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(v.data) / uintptr_t(page) * uintptr_t(page);
  const uintptr_t end = reinterpret_cast<uintptr_t>(v.data) + v.bytes;
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Asks the kernel to read the tensor's pages ahead, asynchronously: faulting a mapping in page by
// page reads a cold 13 GB checkpoint at a few tens of MB/s on a virtual disk.
void readAhead(const TensorView& v) {
  const long page = sysconf(_SC_PAGESIZE);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(v.data) / uintptr_t(page) * uintptr_t(page);
  ::madvise(reinterpret_cast<void*>(begin), reinterpret_cast<uintptr_t>(v.data) + v.bytes - begin, MADV_WILLNEED);
}

// The temporary file a writer makes beside `path`: host and process name it, so that a later run
// (on this host or, with the cache on a shared home, another node) can tell whether its writer lives.
std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !*name) return "host";
  std::string host(name);
  std::replace(host.begin(), host.end(), '.', '_');  // the name's fields are split at dots
  return host;
}
std::string temporaryPath(const std::string& path) {
  return path + ".tmp." + hostName() + "." + std::to_string(::getpid());
}

// Removes what killed writers left beside `path` (a 7B int4 temporary holds 3.8 GB): this host's whose
// process is gone, and any not written to for a day (another node's, or one from before host names).
void removeStaleTemporaries(const std::string& path) {
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  const std::string host = hostName();
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());  // "<host>.<pid>" (or "<pid>" from older writers)
    const size_t dot = rest.rfind('.');
    bool stale = false;
    if (dot != std::string::npos && rest.substr(0, dot) == host) {
      const long pid = std::strtol(rest.c_str() + dot + 1, nullptr, 10);
      stale = pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
    }
    if (!stale) {
      std::error_code timeError;
      const auto written = fs::last_write_time(entry.path(), timeError);
      stale = !timeError && fs::file_time_type::clock::now() - written > std::chrono::hours(24);
    }
    if (stale) fs::remove(entry.path(), ec);
  }
}

struct TempFile {
  std::string path;
  FILE* f = nullptr;
  ~TempFile() {
    if (f) std::fclose(f);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

// Writes the cache file for `entries` to `path` (temporary file, then rename).
void writeCache(const std::string& path, const std::string& identity, const Checkpoint& checkpoint,
                const std::vector<std::pair<std::string, std::string>>& entries, QuantFormat format,
                const LoadProgress& progress, double from, double to) {
  const std::string dir = fs::path(path).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw ModelError("Cannot make the " + std::string(toString(format)) + " weights: the cache folder " + dir +
                     " cannot be created (" + (ec ? ec.message() : std::string("not a folder")) +
                     "); set XDG_CACHE_HOME to a writable folder, or use --weights bf16");

  struct Planned {
    std::string name;
    const TensorView* source;
    int64_t rows, cols;
    uint64_t offset = 0, bytes = 0, checksum = 0;
  };
  std::vector<Planned> plan;
  std::string tableProbe;
  putText(tableProbe, identity);
  put<uint32_t>(tableProbe, uint32_t(entries.size()));
  double total = 0;
  for (const auto& [name, sourceName] : entries) {
    const TensorView& v = checkpoint.tensor(sourceName);
    Planned p{name, &v, v.shape.at(0), v.shape.at(1)};
    p.bytes = uint64_t(p.rows * quantRowBytes(format, p.cols));
    plan.push_back(p);
    tableProbe += std::string(4 + name.size() + 5 * 8, '\0');
    total += double(v.bytes);
  }
  uint64_t offset = alignUp(kHeaderBytes + tableProbe.size());
  for (Planned& p : plan) {
    p.offset = offset;
    offset = alignUp(offset + p.bytes);
  }
  const uint64_t fileBytes = offset;

  removeStaleTemporaries(path);
  TempFile tmp;
  tmp.path = temporaryPath(path);
  tmp.f = std::fopen(tmp.path.c_str(), "wb");
  auto writeFailed = [&](const char* what) {
    return ModelError("Cannot make the " + std::string(toString(format)) + " weights: " + what + " " + tmp.path +
                      " failed (" + std::strerror(errno) + "); free some disk space in " + dir +
                      " (it needs " + std::to_string(fileBytes >> 20) + " MiB), or use --weights bf16");
  };
  if (!tmp.f) throw writeFailed("creating");
  double done = 0;
  std::vector<uint8_t> buffer;
  if (!plan.empty()) readAhead(*plan.front().source);
  for (size_t i = 0; i < plan.size(); ++i) {
    Planned& p = plan[i];
    if (i + 1 < plan.size()) readAhead(*plan[i + 1].source);  // the next matrix streams in meanwhile
    if (progress && !progress(from + (to - from) * done / total,
                              "making the " + std::string(toString(format)) + " weights (first use): " + p.name))
      throw LoadCancelled();
    buffer.assign(size_t(p.bytes), 0);
    const TensorView& v = *p.source;
    const int64_t cols = p.cols;
    quantizeMatrix(format, [&](int64_t r, float* out) { readRowAsFloat(v, r, cols, out); }, p.rows, cols,
                   buffer.data());
    releasePages(v);
    p.checksum = checksum64(buffer.data(), buffer.size());
    if (std::fseek(tmp.f, long(p.offset), SEEK_SET) != 0 || std::fwrite(buffer.data(), 1, buffer.size(), tmp.f) != buffer.size())
      throw writeFailed("writing");
    done += double(v.bytes);
  }
  std::string table;
  putText(table, identity);
  put<uint32_t>(table, uint32_t(plan.size()));
  for (const Planned& p : plan) {
    putText(table, p.name);
    put<int64_t>(table, p.rows);
    put<int64_t>(table, p.cols);
    put<uint64_t>(table, p.offset);
    put<uint64_t>(table, p.bytes);
    put<uint64_t>(table, p.checksum);
  }
  std::string header(kMagic, 8);
  put<uint32_t>(header, layoutVersion(format));
  put<uint32_t>(header, uint32_t(format));
  put<uint64_t>(header, fileBytes);
  put<uint64_t>(header, kHeaderBytes);
  put<uint64_t>(header, uint64_t(table.size()));
  put<uint64_t>(header, checksum64(reinterpret_cast<const uint8_t*>(table.data()), table.size()));
  put<uint64_t>(header, checksum64(reinterpret_cast<const uint8_t*>(header.data()), header.size()));
  header.resize(kHeaderBytes, '\0');
  // The last matrix may end before its aligned end: the file is extended to its full size.
  if (std::fseek(tmp.f, 0, SEEK_SET) != 0 || std::fwrite(header.data(), 1, header.size(), tmp.f) != header.size() ||
      std::fwrite(table.data(), 1, table.size(), tmp.f) != table.size() || std::fflush(tmp.f) != 0 ||
      ::ftruncate(fileno(tmp.f), off_t(fileBytes)) != 0 || ::fsync(fileno(tmp.f)) != 0)
    throw writeFailed("writing");
  std::fclose(tmp.f);
  tmp.f = nullptr;
  if (std::rename(tmp.path.c_str(), path.c_str()) != 0) throw writeFailed("renaming");
  tmp.path.clear();  // in place: nothing to remove
}

}  // namespace

uint64_t checksum64(const uint8_t* data, size_t size) {
  uint64_t lane[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, data + i + 8 * l, 8);
      lane[l] = (lane[l] ^ w) * kMul;
      lane[l] ^= lane[l] >> 31;
    }
  uint64_t h = uint64_t(size) * kMul;
  for (; i < size; ++i) h = (h ^ data[i]) * kMul;
  for (uint64_t v : lane) h = (h ^ v) * kMul, h ^= h >> 29;
  return h;
}

std::vector<std::pair<std::string, std::string>> quantizedWeightNames(const ModelConfig& config,
                                                                      const Checkpoint& checkpoint) {
  std::vector<std::pair<std::string, std::string>> names;
  const std::string layers = llamaLayersPrefix(config);
  for (const ExpectedTensor& t : expectedTensors(config)) {
    const std::string& name = t.name;
    const bool projection = name.rfind(layers, 0) == 0 && name.size() > 12 &&
                            name.compare(name.size() - 12, 12, "_proj.weight") == 0;
    if (projection) names.emplace_back(name, name);
  }
  const std::string embed = config.llamaPrefix + "embed_tokens.weight";
  names.emplace_back("lm_head.weight", checkpoint.find("lm_head.weight") ? "lm_head.weight" : embed);
  return names;
}

std::string quantCacheFolder() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  fs::path base;
  if (xdg && *xdg && fs::path(xdg).is_absolute()) {
    base = xdg;
  } else {
    const char* home = std::getenv("HOME");
    base = fs::path(home && *home ? home : "/tmp") / ".cache";
  }
  return (base / "cxr-assistant" / "quantized").string();
}

std::string quantCachePath(const std::string& folder, const ModelConfig& config, const Checkpoint& checkpoint,
                           QuantFormat format) {
  const std::string id = identityText(folder, config, checkpoint, format);
  return (fs::path(quantCacheFolder()) / (sha256Hex(id.data(), id.size()).substr(0, 24) + "-" + toString(format) + ".cxrq"))
      .string();
}

namespace {

// Opens and checks the file; nullptr with `why` filled when it is absent or damaged.
std::unique_ptr<QuantizedWeights> openChecked(const std::string& path, const std::string& identity,
                                              QuantFormat format,
                                              const std::vector<std::pair<std::string, std::string>>& expected,
                                              const Checkpoint& checkpoint, const LoadProgress& progress, double from,
                                              double to, std::string& why,
                                              std::shared_ptr<MappedFile>& fileOut,
                                              std::map<std::string, QuantizedWeights::Matrix>& matrices) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    why = "absent";
    return nullptr;
  }
  std::string error;
  auto file = MappedFile::open(path, path, error);
  if (!file) {
    why = error;
    return nullptr;
  }
  const uint8_t* d = file->data();
  const uint64_t size = file->size();
  if (size < kHeaderBytes || std::memcmp(d, kMagic, 8) != 0) {
    why = "it is not a quantized weights file (no CXRQUANT header)";
    return nullptr;
  }
  Reader h(d + 8, kHeaderBytes - 8);
  uint32_t version = 0, fmt = 0;
  uint64_t fileBytes = 0, tableOffset = 0, tableBytes = 0, tableSum = 0, headerSum = 0;
  h.get(version), h.get(fmt), h.get(fileBytes), h.get(tableOffset), h.get(tableBytes), h.get(tableSum), h.get(headerSum);
  if (checksum64(d, 48) != headerSum) {
    why = "its header checksum does not match";
    return nullptr;
  }
  if (fmt != uint32_t(format)) {
    why = "it holds format " + std::to_string(fmt) + ", expected " + std::to_string(int(format));
    return nullptr;
  }
  if (version != layoutVersion(format)) {
    why = std::string(kOtherLayout) + " (layout " + std::to_string(version) + "; this program reads layout " +
          std::to_string(layoutVersion(format)) + ")";
    return nullptr;
  }
  if (fileBytes != size || tableOffset != kHeaderBytes || tableBytes > size - tableOffset) {
    why = "it is " + std::to_string(size) + " bytes, its header says " + std::to_string(fileBytes) + " (cut short?)";
    return nullptr;
  }
  if (checksum64(d + tableOffset, tableBytes) != tableSum) {
    why = "its table checksum does not match";
    return nullptr;
  }
  Reader t(d + tableOffset, tableBytes);
  std::string id;
  uint32_t count = 0;
  if (!t.getText(id) || id != identity || !t.get(count) || count != expected.size()) {
    why = "it was made from other weights";
    return nullptr;
  }
  std::set<std::string> names;
  for (const auto& e : expected) names.insert(e.first);
  struct Entry {
    std::string name;
    QuantizedWeights::Matrix m;
    uint64_t sum;
  };
  std::vector<Entry> entries;
  for (uint32_t i = 0; i < count; ++i) {
    Entry e;
    uint64_t offset = 0;
    if (!t.getText(e.name) || !t.get(e.m.rows) || !t.get(e.m.cols) || !t.get(offset) || !t.get(e.m.bytes) ||
        !t.get(e.sum) || !names.count(e.name) || e.m.rows <= 0 || e.m.cols <= 0 ||
        e.m.bytes != uint64_t(e.m.rows * quantRowBytes(format, e.m.cols)) || offset > size || e.m.bytes > size - offset) {
      why = "its table is damaged at entry " + std::to_string(i);
      return nullptr;
    }
    e.m.data = d + offset;
    entries.push_back(e);
  }
  for (const auto& [name, source] : expected) {
    const TensorView& v = checkpoint.tensor(source);
    auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.name == name; });
    if (it == entries.end() || it->m.rows != v.shape.at(0) || it->m.cols != v.shape.at(1)) {
      why = "its matrix " + name + " is missing or has another shape";
      return nullptr;
    }
  }
  // Every matrix's bytes against its checksum; this also pages the weights in now, during the load.
  double total = 0, done = 0;
  for (const Entry& e : entries) total += double(e.m.bytes);
  for (const Entry& e : entries) {
    if (progress && !progress(from + (to - from) * done / std::max(1.0, total), "loading " + e.name + " (" +
                                                                                    toString(format) + ")"))
      throw LoadCancelled();
    if (checksum64(e.m.data, e.m.bytes) != e.sum) {
      why = "the data of " + e.name + " does not match its checksum";
      return nullptr;
    }
    done += double(e.m.bytes);
  }
  for (const Entry& e : entries) matrices[e.name] = e.m;
  fileOut = file;
  return std::make_unique<QuantizedWeights>();
}

}  // namespace

const QuantizedWeights::Matrix* QuantizedWeights::find(const std::string& name) const {
  auto it = matrices_.find(name);
  return it == matrices_.end() ? nullptr : &it->second;
}

std::unique_ptr<QuantizedWeights> QuantizedWeights::openOrMake(const std::string& folder, const ModelConfig& config,
                                                               const Checkpoint& checkpoint, QuantFormat format,
                                                               const LoadProgress& progress, double from, double to) {
  const std::string identity = identityText(folder, config, checkpoint, format);
  const std::string path = quantCachePath(folder, config, checkpoint, format);
  const auto expected = quantizedWeightNames(config, checkpoint);
  std::string why, notice;
  std::shared_ptr<MappedFile> file;
  std::map<std::string, Matrix> matrices;
  auto q = openChecked(path, identity, format, expected, checkpoint, progress, from, to, why, file, matrices);
  if (!q) {
    const auto t0 = std::chrono::steady_clock::now();
    const double mid = from + 0.85 * (to - from);
    writeCache(path, identity, checkpoint, expected, format, progress, from, mid);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ostringstream text;
    text.precision(3);
    if (why == "absent")
      text << "made the " << toString(format) << " weights (first use) in " << seconds << " s: " << path;
    else if (why.rfind(kOtherLayout, 0) == 0)
      text << "the " << toString(format) << " weights cache " << path << " was " << why << "; made again in "
           << seconds << " s";
    else
      text << "the " << toString(format) << " weights cache " << path << " was damaged (" << why
           << ") and was made again in " << seconds << " s";
    notice = text.str();
    matrices.clear();
    q = openChecked(path, identity, format, expected, checkpoint, progress, mid, to, why, file, matrices);
    if (!q) throw ModelError("The " + std::string(toString(format)) + " weights cache " + path +
                             " cannot be read back after making it: " + why);
  }
  q->format_ = format;
  q->file_ = file;
  q->matrices_ = std::move(matrices);
  q->path_ = path;
  q->notice_ = notice;
  return q;
}

std::string QuantizedWeights::make(const std::string& folder, const ModelConfig& config, const Checkpoint& checkpoint,
                                   QuantFormat format, const LoadProgress& progress, bool* madeNow) {
  auto q = openOrMake(folder, config, checkpoint, format, progress, 0.0, 1.0);
  if (madeNow) *madeNow = !q->notice().empty();
  return q->path();
}

}  // namespace cxr::detail
