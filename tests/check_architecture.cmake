# Source-level half of the dependency rules (the link-level half is cmake/CxrDependencyRules.cmake):
# model/ includes no Qt header, viewer/ includes no torch header, and only model/src includes torch.
set(violations)
file(GLOB_RECURSE model_files "${SOURCE_DIR}/model/*.h" "${SOURCE_DIR}/model/*.cpp")
foreach(f IN LISTS model_files)
  file(STRINGS "${f}" hits REGEX "#include *[<\"](Q[A-Za-z]+|Qt[A-Za-z]*/)")
  if(hits)
    list(APPEND violations "${f}: model/ must not include Qt (${hits})")
  endif()
endforeach()
file(GLOB_RECURSE torch_free_files
  "${SOURCE_DIR}/viewer/*.h" "${SOURCE_DIR}/viewer/*.cpp"
  "${SOURCE_DIR}/assistant/*.h" "${SOURCE_DIR}/assistant/*.cpp"
  "${SOURCE_DIR}/app/*.h" "${SOURCE_DIR}/app/*.cpp"
  "${SOURCE_DIR}/model/include/*.h")
foreach(f IN LISTS torch_free_files)
  file(STRINGS "${f}" hits REGEX "#include *[<\"](torch|ATen|c10|sentencepiece)")
  if(hits)
    list(APPEND violations "${f}: torch/sentencepiece headers belong in model/src only (${hits})")
  endif()
endforeach()
if(violations)
  list(JOIN violations "\n" text)
  message(FATAL_ERROR "Architecture rules broken:\n${text}")
endif()
message(STATUS "architecture rules hold: model/ Qt-free, torch confined to model/src")
