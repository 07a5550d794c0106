// The C interface of cxr_spm, the private shared library that alone links sentencepiece.
//
// Why a C API behind dlopen: Debian's libsentencepiece embeds protobuf 3.14 and exports its
// symbols, libtorch brings protobuf 3.21; linked into one process they crash at static
// initialisation. cxr_model loads this library with RTLD_LOCAL | RTLD_DEEPBIND so sentencepiece
// binds to its own protobuf, and only these plain-C symbols cross the boundary.
//
// Conventions: functions returning size_t with an output buffer write at most `capacity` items and
// return how many the full answer needs (call again with a bigger buffer if it was larger).
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CXR_SPM_ABI_VERSION 1

#if defined(CXR_SPM_BUILDING)
#define CXR_SPM_API __attribute__((visibility("default")))
#else
#define CXR_SPM_API
#endif

typedef struct cxr_spm cxr_spm;

CXR_SPM_API int cxr_spm_abi_version(void);

// Loads a sentencepiece model file. add_dummy_prefix: -1 keeps the file's setting, 0 or 1 overrides
// normalizer_spec.add_dummy_prefix (what transformers does for legacy=False). On failure returns
// NULL and writes a message into error (NUL-terminated, truncated to error_capacity).
CXR_SPM_API cxr_spm* cxr_spm_load(const char* path, int add_dummy_prefix, char* error, size_t error_capacity);
CXR_SPM_API void cxr_spm_free(cxr_spm* spm);

// Plain sentencepiece encode (no BOS/EOS). Returns the number of ids, or (size_t)-1 on error.
CXR_SPM_API size_t cxr_spm_encode(const cxr_spm* spm, const char* text, size_t text_length, int32_t* ids,
                      size_t capacity);
// Plain sentencepiece decode. Returns the byte length of the text, or (size_t)-1 on error.
CXR_SPM_API size_t cxr_spm_decode(const cxr_spm* spm, const int32_t* ids, size_t count, char* text,
                      size_t capacity);
// The piece string of an id (bytes; not NUL-terminated unless room is left).
CXR_SPM_API size_t cxr_spm_id_to_piece(const cxr_spm* spm, int32_t id, char* piece, size_t capacity);
CXR_SPM_API int32_t cxr_spm_piece_to_id(const cxr_spm* spm, const char* piece, size_t piece_length);

CXR_SPM_API int cxr_spm_piece_count(const cxr_spm* spm);
CXR_SPM_API int cxr_spm_is_byte(const cxr_spm* spm, int32_t id);
CXR_SPM_API int cxr_spm_is_control(const cxr_spm* spm, int32_t id);
CXR_SPM_API int cxr_spm_is_unknown(const cxr_spm* spm, int32_t id);
CXR_SPM_API int cxr_spm_is_unused(const cxr_spm* spm, int32_t id);
CXR_SPM_API int32_t cxr_spm_bos_id(const cxr_spm* spm);
CXR_SPM_API int32_t cxr_spm_eos_id(const cxr_spm* spm);
CXR_SPM_API int32_t cxr_spm_unk_id(const cxr_spm* spm);
// normalizer_spec flags of the loaded model (after any override).
CXR_SPM_API int cxr_spm_add_dummy_prefix(const cxr_spm* spm);
CXR_SPM_API int cxr_spm_remove_extra_whitespaces(const cxr_spm* spm);

#ifdef __cplusplus
}
#endif
