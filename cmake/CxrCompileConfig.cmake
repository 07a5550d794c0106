# cxr_config: one INTERFACE target that carries the language standard, warnings, Qt safety defines
# and sanitizer flags. Every target in the tree links it, so these settings live in one place.
add_library(cxr_config INTERFACE)
add_library(cxr::config ALIAS cxr_config)

target_compile_features(cxr_config INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)

target_compile_options(cxr_config INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align -Wformat=2
  $<$<BOOL:${CXR_WARNINGS_AS_ERRORS}>:-Werror>)

# Qt safety defines. QT_NO_KEYWORDS keeps Qt's `slots`/`signals`/`emit` macros out of every
# translation unit: they collide with identifiers inside libtorch headers. Use Q_SLOTS/Q_SIGNALS/Q_EMIT.
target_compile_definitions(cxr_config INTERFACE
  QT_NO_KEYWORDS
  QT_NO_CAST_FROM_ASCII
  QT_NO_CAST_TO_ASCII
  QT_NO_URL_CAST_FROM_STRING
  QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
  QT_NO_CONTEXTLESS_CONNECT
  QT_USE_QSTRINGBUILDER
  CXR_VERSION_STRING="${PROJECT_VERSION}")

if(CXR_SANITIZE)
  list(JOIN CXR_SANITIZE "," _cxr_san)
  target_compile_options(cxr_config INTERFACE -fsanitize=${_cxr_san} -fno-omit-frame-pointer)
  target_link_options(cxr_config INTERFACE -fsanitize=${_cxr_san})
  # The sanitizers' dlopen interceptor refuses RTLD_DEEPBIND, which isolates sentencepiece's protobuf
  # from libtorch's; sanitized builds open the tokenizer shim with glibc's own dlopen instead
  # (model/src/tokenizer/spm_library.cpp says why that is acceptable).
  target_compile_definitions(cxr_config INTERFACE CXR_SANITIZED_BUILD=1)
endif()
