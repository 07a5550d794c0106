# Owned by the preprocessing area: Pillow-identical gray conversion, Lanczos resize, crop, normalise.
list(APPEND CXR_MODEL_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/preprocess.h
  ${CMAKE_CURRENT_LIST_DIR}/preprocess.cpp)
