# Owned by the tokenizer area: tokenizer (through the dlopen'ed sentencepiece shim), chat template,
# streaming, stock prompts and model discovery.
list(APPEND CXR_MODEL_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer.h
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_decoder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chat_template.cpp
  ${CMAKE_CURRENT_LIST_DIR}/spm_library.h
  ${CMAKE_CURRENT_LIST_DIR}/spm_library.cpp
  ${CMAKE_CURRENT_LIST_DIR}/prompts.cpp)
# Where the build tree's shim is (first place looked after $CXR_SPM_LIBRARY). Evaluated at
# generate time, so it works although the shim's target is defined after this list.
set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/spm_library.cpp APPEND PROPERTY
  COMPILE_DEFINITIONS "CXR_SPM_BUILD_PATH=\"$<TARGET_FILE:cxr_spm>\"")
# Installed layout: the shim sits in <libdir>/cxr-assistant; the path from <bindir> to there is
# compiled in (Debian's libdir is lib/x86_64-linux-gnu, so "../lib" alone would miss it).
file(RELATIVE_PATH _cxr_spm_install_reldir "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}/cxr-assistant")
set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/spm_library.cpp APPEND PROPERTY
  COMPILE_DEFINITIONS "CXR_SPM_INSTALL_RELDIR=\"${_cxr_spm_install_reldir}\"")
