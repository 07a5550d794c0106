# Owned by the engine core area: loading, vision tower, LLaMA, sampling, public API.
# Only engine.cpp, transformer.cpp, products.cpp (the routed matrix products), attention_prefill.cpp, fused_elementwise.cpp, rms_norm.cpp, product_watch.cpp
# (a test probe), prefix_cache.cpp, kernel_bench.cpp, block_reuse.cpp (c10's allocator hook), thread_pool.cpp (at::parallel_for), quant_linear.cpp,
# perplexity.cpp and quant_kernels.cpp (at::parallel_for) include ATen (slow to compile); keep it that way.
list(APPEND CXR_MODEL_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/json.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sha256.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu_level.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_files.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/checkpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/random_checkpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transformer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/products.cpp
  ${CMAKE_CURRENT_LIST_DIR}/product_watch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernel_bench.cpp
  ${CMAKE_CURRENT_LIST_DIR}/thread_pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/block_reuse.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gemv_bf16.cpp
  ${CMAKE_CURRENT_LIST_DIR}/attention_decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/attention_prefill.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fused_elementwise.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rms_norm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/prefix_cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quant_format.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quant_kernels.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quant_cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quant_linear.cpp
  ${CMAKE_CURRENT_LIST_DIR}/weights_choice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/perplexity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine.cpp)
# The fused elementwise chains and RMSNorm must round as libtorch's separate ops do: no multiply-add
# contracted into an FMA (GCC may contract vector intrinsics too).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/fused_elementwise.cpp ${CMAKE_CURRENT_LIST_DIR}/rms_norm.cpp
                            PROPERTIES COMPILE_OPTIONS -ffp-contract=off)
