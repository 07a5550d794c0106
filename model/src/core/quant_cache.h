// The quantized decoder weights of a model folder, kept in one file per (weights, format) under the
// user's cache folder: $XDG_CACHE_HOME/cxr-assistant/quantized/ (~/.cache/... without it), never
// beside the model (a model folder may be read-only, shared, or a Hugging Face snapshot).
//
// Made from the safetensors the first time a format is asked for (minutes at the 7B shapes, with
// progress and cancel), written to a temporary file and renamed into place (a crash or a cancel
// never leaves a half file under the final name), then memory-mapped read-only by every later load.
// Its name is a hash of the weights' identity (config.json and index sha256, every weight file's
// name, size and modification time): changed weights make a new file, never a stale match.
//
// File layout (little-endian):
//   header, 64 bytes: magic "CXRQUANT", u32 version, u32 format (1 int8, 2 int4), u64 file size,
//     u64 table offset, u64 table size, u64 checksum of the table, u64 checksum of the 48 bytes
//     before it, 8 bytes zero.
//   table: u32 length + identity text; u32 count; per matrix: u32 length + name, i64 rows,
//     i64 cols (K), u64 offset, u64 bytes, u64 checksum of the bytes.
//   the matrices' packed rows (quant_format.h), each at a 4096-byte aligned offset.
// Opening checks all of it (every matrix's checksum while paging it in); a file that fails is
// made again, and the load says so (QuantizedWeights::notice).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/quant_format.h"

namespace cxr::detail {

class QuantizedWeights {
 public:
  struct Matrix {
    const uint8_t* data = nullptr;  // inside the mapping: rows * quantRowBytes(format, cols) bytes
    int64_t rows = 0, cols = 0;
    uint64_t bytes = 0;
  };

  // The cache file for `checkpoint` in `format`: opened and checked, or made first (and made again
  // when damaged). progress(fraction, stage) is called with fractions in [from, to]; false throws
  // LoadCancelled (a file being made is removed). Throws ModelError when the cache folder cannot be
  // written, naming it and what to do.
  static std::unique_ptr<QuantizedWeights> openOrMake(const std::string& folder, const ModelConfig& config,
                                                      const Checkpoint& checkpoint, QuantFormat format,
                                                      const LoadProgress& progress, double from, double to);
  // Makes the file if it is not there or damaged (cxr-llava quantize); returns its path.
  static std::string make(const std::string& folder, const ModelConfig& config, const Checkpoint& checkpoint,
                          QuantFormat format, const LoadProgress& progress, bool* madeNow = nullptr);

  QuantFormat format() const { return format_; }
  const Matrix* find(const std::string& name) const;
  const std::map<std::string, Matrix>& matrices() const { return matrices_; }
  const std::string& path() const { return path_; }
  // Non-empty when this load made the file (first use, or the old one was damaged): a sentence for
  // the user ("made ... in 52 s", "... was damaged (...) and was made again").
  const std::string& notice() const { return notice_; }

 private:
  QuantFormat format_ = QuantFormat::Int8;
  std::shared_ptr<MappedFile> file_;
  std::map<std::string, Matrix> matrices_;
  std::string path_, notice_;
};

// The weights that are quantized, as (name in the model, name of the stored tensor it is made
// from): each decoder layer's seven projections and lm_head (from the embedding when a tied model
// stores no lm_head). Vision tower, projector, embeddings and norms stay as stored.
std::vector<std::pair<std::string, std::string>> quantizedWeightNames(const ModelConfig& config,
                                                                      const Checkpoint& checkpoint);

// $XDG_CACHE_HOME/cxr-assistant/quantized (absolute XDG_CACHE_HOME only, per the XDG spec), else
// $HOME/.cache/cxr-assistant/quantized.
std::string quantCacheFolder();

// The path the cache file of these weights in this format has (whether or not it exists yet).
std::string quantCachePath(const std::string& folder, const ModelConfig& config, const Checkpoint& checkpoint,
                           QuantFormat format);

// 64-bit checksum (four interleaved multiply-xor lanes, as fast as memory): detects damage, not
// tampering.
uint64_t checksum64(const uint8_t* data, size_t size);

}  // namespace cxr::detail
