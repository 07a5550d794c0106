#include "core/cpu_level.h"

#include <cstdlib>
#include <cstring>

namespace cxr::detail {

namespace {

CpuLevel detect() {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512bf16");
  const char* requested = std::getenv("CXR_CPU_LEVEL");
  if (avx512 && !(requested && std::strcmp(requested, "avx2") == 0))
    return CpuLevel::Avx512;
  return CpuLevel::Avx2;
}

}  // namespace

CpuLevel cpuLevel() {
  static const CpuLevel level = detect();
  return level;
}

const char* toString(CpuLevel level) { return level == CpuLevel::Avx512 ? "avx512" : "avx2"; }

bool cpuHasAvx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
  return has;
}

bool atenKernelsAtAvx2() {
  const char* capability = std::getenv("ATEN_CPU_CAPABILITY");
  return cpuHasAvx2() && !(capability && std::strcmp(capability, "avx2") != 0);
}

}  // namespace cxr::detail
