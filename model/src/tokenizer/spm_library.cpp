#include "tokenizer/spm_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "cxr/model/types.h"
#include "../../spm_shim/spm_shim_api.h"

namespace fs = std::filesystem;

namespace cxr::detail {

struct SpmApi {
  decltype(&cxr_spm_abi_version) abiVersion;
  decltype(&cxr_spm_load) load;
  decltype(&cxr_spm_free) free;
  decltype(&cxr_spm_encode) encode;
  decltype(&cxr_spm_decode) decode;
  decltype(&cxr_spm_id_to_piece) idToPiece;
  decltype(&cxr_spm_piece_to_id) pieceToId;
  decltype(&cxr_spm_piece_count) pieceCount;
  decltype(&cxr_spm_is_byte) isByte;
  decltype(&cxr_spm_is_control) isControl;
  decltype(&cxr_spm_is_unknown) isUnknown;
  decltype(&cxr_spm_is_unused) isUnused;
  decltype(&cxr_spm_bos_id) bosId;
  decltype(&cxr_spm_eos_id) eosId;
  decltype(&cxr_spm_unk_id) unkId;
  decltype(&cxr_spm_add_dummy_prefix) addDummyPrefix;
  decltype(&cxr_spm_remove_extra_whitespaces) removeExtraWhitespaces;
  std::string path;
};

namespace {

constexpr const char* kLibraryName = "libcxr_spm.so";

std::vector<std::string> candidatePaths() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("CXR_SPM_LIBRARY"); env && *env) paths.emplace_back(env);
#ifdef CXR_SPM_BUILD_PATH
  paths.emplace_back(CXR_SPM_BUILD_PATH);
#endif
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    paths.push_back((dir / kLibraryName).string());
#ifdef CXR_SPM_INSTALL_RELDIR
    paths.push_back((dir / CXR_SPM_INSTALL_RELDIR / kLibraryName).lexically_normal().string());
#endif
    paths.push_back((dir / ".." / "lib" / "cxr-assistant" / kLibraryName).lexically_normal().string());
  }
  // The same place can come up twice (the compiled-in relative path is usually ../lib/...).
  std::vector<std::string> unique;
  for (auto& p : paths)
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(std::move(p));
  return unique;
}

// RTLD_LOCAL | RTLD_DEEPBIND: the shim and libsentencepiece resolve symbols in their own dependency
// tree first, so sentencepiece's embedded protobuf 3.14 never binds to libtorch's 3.21.
void* openShim(const std::string& path) {
  constexpr int kFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#if defined(CXR_SANITIZED_BUILD)
  // Sanitizer runtimes intercept dlopen and abort on RTLD_DEEPBIND (google/sanitizers#611: a
  // deep-bound library may reach libc's malloc/free past the sanitizer's). Without DEEPBIND the
  // protobuf versions collide and the tokenizer cannot load next to libtorch at all. The shim's C
  // interface only hands out memory it frees itself (cxr_spm_free), so sanitized builds take the risk
  // and call glibc's own dlopen, which the interceptor does not see.
  using DlopenFn = void* (*)(const char*, int);
  static const DlopenFn libcDlopen = [] {
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    return libc ? reinterpret_cast<DlopenFn>(dlsym(libc, "dlopen")) : nullptr;
  }();
  if (libcDlopen) return libcDlopen(path.c_str(), kFlags);
  return dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
  return dlopen(path.c_str(), kFlags);
#endif
}

template <typename F>
void resolve(void* handle, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(dlsym(handle, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
}

SpmApi loadApi() {
  std::string tried;
  for (const std::string& path : candidatePaths()) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      tried += "\n  " + path + " (absent)";
      continue;
    }
    void* handle = openShim(path);
    if (!handle) {
      const char* why = dlerror();
      tried += "\n  " + path + " (" + (why ? why : "dlopen failed") + ")";
      continue;
    }
    SpmApi api{};
    std::string missing;
    resolve(handle, "cxr_spm_abi_version", api.abiVersion, missing);
    resolve(handle, "cxr_spm_load", api.load, missing);
    resolve(handle, "cxr_spm_free", api.free, missing);
    resolve(handle, "cxr_spm_encode", api.encode, missing);
    resolve(handle, "cxr_spm_decode", api.decode, missing);
    resolve(handle, "cxr_spm_id_to_piece", api.idToPiece, missing);
    resolve(handle, "cxr_spm_piece_to_id", api.pieceToId, missing);
    resolve(handle, "cxr_spm_piece_count", api.pieceCount, missing);
    resolve(handle, "cxr_spm_is_byte", api.isByte, missing);
    resolve(handle, "cxr_spm_is_control", api.isControl, missing);
    resolve(handle, "cxr_spm_is_unknown", api.isUnknown, missing);
    resolve(handle, "cxr_spm_is_unused", api.isUnused, missing);
    resolve(handle, "cxr_spm_bos_id", api.bosId, missing);
    resolve(handle, "cxr_spm_eos_id", api.eosId, missing);
    resolve(handle, "cxr_spm_unk_id", api.unkId, missing);
    resolve(handle, "cxr_spm_add_dummy_prefix", api.addDummyPrefix, missing);
    resolve(handle, "cxr_spm_remove_extra_whitespaces", api.removeExtraWhitespaces, missing);
    if (!missing.empty()) {
      tried += "\n  " + path + " (lacks " + missing + ")";
      continue;  // the handle stays open: harmless, and dlclose of a DEEPBIND library is not worth it
    }
    if (api.abiVersion() != CXR_SPM_ABI_VERSION) {
      tried += "\n  " + path + " (ABI version " + std::to_string(api.abiVersion()) + ", expected " +
               std::to_string(CXR_SPM_ABI_VERSION) + ")";
      continue;
    }
    api.path = path;
    return api;
  }
  throw cxr::ModelError(
      "cannot load the tokenizer library libcxr_spm.so (the private sentencepiece shim); looked in:" +
      tried + "\nReinstall the program, or set CXR_SPM_LIBRARY to the file's full path.");
}

}  // namespace

const SpmApi& spmApi() {
  // Not a function-local static object: a failed load must be retried next time (and reported again).
  static std::mutex mutex;
  static std::unique_ptr<SpmApi> api;
  std::lock_guard lock(mutex);
  if (!api) api = std::make_unique<SpmApi>(loadApi());
  return *api;
}

std::string spmLibraryPath() { return spmApi().path; }

SpmModel::SpmModel(const std::string& path, int addDummyPrefix) : api_(spmApi()), path_(path) {
  char error[1024] = {0};
  handle_ = api_.load(path.c_str(), addDummyPrefix, error, sizeof error);
  if (!handle_) throw cxr::ModelError(error[0] ? error : path + ": cannot load the sentencepiece model");
  addDummyPrefix_ = api_.addDummyPrefix(handle_) == 1;
  removeExtraWhitespaces_ = api_.removeExtraWhitespaces(handle_) == 1;
}

SpmModel::~SpmModel() {
  if (handle_) api_.free(handle_);
}

std::vector<int32_t> SpmModel::encode(const std::string& text) const {
  std::vector<int32_t> ids(text.size() + 16);
  size_t n = api_.encode(handle_, text.data(), text.size(), ids.data(), ids.size());
  if (n == static_cast<size_t>(-1)) throw cxr::ModelError(path_ + ": sentencepiece failed to encode a text");
  if (n > ids.size()) {
    ids.resize(n);
    n = api_.encode(handle_, text.data(), text.size(), ids.data(), ids.size());
  }
  ids.resize(n);
  return ids;
}

std::string SpmModel::decode(const std::vector<int32_t>& ids) const {
  std::string text(ids.size() * 8 + 16, '\0');
  size_t n = api_.decode(handle_, ids.data(), ids.size(), text.data(), text.size());
  if (n == static_cast<size_t>(-1)) throw cxr::ModelError(path_ + ": sentencepiece failed to decode ids");
  if (n > text.size()) {
    text.assign(n, '\0');
    n = api_.decode(handle_, ids.data(), ids.size(), text.data(), text.size());
  }
  text.resize(n);
  return text;
}

std::string SpmModel::idToPiece(int32_t id) const {
  std::string piece(64, '\0');
  size_t n = api_.idToPiece(handle_, id, piece.data(), piece.size());
  if (n > piece.size()) {
    piece.assign(n, '\0');
    n = api_.idToPiece(handle_, id, piece.data(), piece.size());
  }
  piece.resize(n);
  return piece;
}

int32_t SpmModel::pieceToId(const std::string& piece) const {
  return api_.pieceToId(handle_, piece.data(), piece.size());
}
int SpmModel::pieceCount() const { return api_.pieceCount(handle_); }
bool SpmModel::isByte(int32_t id) const { return api_.isByte(handle_, id) != 0; }
bool SpmModel::isControl(int32_t id) const { return api_.isControl(handle_, id) != 0; }
bool SpmModel::isUnknown(int32_t id) const { return api_.isUnknown(handle_, id) != 0; }
bool SpmModel::isUnused(int32_t id) const { return api_.isUnused(handle_, id) != 0; }
int32_t SpmModel::bosId() const { return api_.bosId(handle_); }
int32_t SpmModel::eosId() const { return api_.eosId(handle_); }
int32_t SpmModel::unkId() const { return api_.unkId(handle_); }

}  // namespace cxr::detail
