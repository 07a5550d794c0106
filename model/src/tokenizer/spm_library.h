// Loads the private cxr_spm shim (model/spm_shim) with dlopen and wraps its C API in RAII.
//
// Where the shim is looked for, first hit wins:
//   1. $CXR_SPM_LIBRARY (a full path; lets packagers and tests point elsewhere),
//   2. the build-tree path compiled in (CXR_SPM_BUILD_PATH),
//   3. next to the executable, then <bindir>/<relative path to libdir>/cxr-assistant/ (the
//      installed layout, path compiled in), then <exe dir>/../lib/cxr-assistant/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct cxr_spm;

namespace cxr::detail {

// The resolved C functions of the shim. One instance per process (the library is never unloaded).
struct SpmApi;
const SpmApi& spmApi();  // throws cxr::ModelError saying where it looked when the shim is missing

// One loaded sentencepiece model.
class SpmModel {
 public:
  // addDummyPrefix: -1 keeps the file's setting, 0/1 overrides it. Throws cxr::ModelError.
  SpmModel(const std::string& path, int addDummyPrefix);
  ~SpmModel();
  SpmModel(const SpmModel&) = delete;
  SpmModel& operator=(const SpmModel&) = delete;

  std::vector<int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string idToPiece(int32_t id) const;
  int32_t pieceToId(const std::string& piece) const;
  int pieceCount() const;
  bool isByte(int32_t id) const;
  bool isControl(int32_t id) const;
  bool isUnknown(int32_t id) const;
  bool isUnused(int32_t id) const;
  int32_t bosId() const;
  int32_t eosId() const;
  int32_t unkId() const;
  bool addDummyPrefix() const { return addDummyPrefix_; }
  bool removeExtraWhitespaces() const { return removeExtraWhitespaces_; }

 private:
  const SpmApi& api_;
  cxr_spm* handle_ = nullptr;
  std::string path_;
  // Read once at load: the shim finds them by serializing and parsing the whole model (~1 ms for
  // LLaMA's 32,000 pieces), and decoding asks for add_dummy_prefix on every streamed token.
  bool addDummyPrefix_ = false;
  bool removeExtraWhitespaces_ = false;
};

// Where the shim was loaded from (for diagnostics).
std::string spmLibraryPath();

}  // namespace cxr::detail
