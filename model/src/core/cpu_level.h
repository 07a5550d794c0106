// The instruction-set level the engine works at: which variant of our own kernels runs, and whether
// bf16 matrix products may go through libtorch's oneDNN path (which needs AVX-512). Decided once per
// process from the CPU's features; CXR_CPU_LEVEL=avx2 in the environment lowers it so that any
// machine behaves as an AVX2-only CPU does (tests and benchmarks of the AVX2 path).
#pragma once

namespace cxr::detail {

enum class CpuLevel {
  Avx2,    // AVX2 + FMA + F16C (x86-64 since Haswell)
  Avx512,  // AVX-512 F/BW/VL/DQ + BF16 (Zen 4, Sapphire Rapids and later)
};

CpuLevel cpuLevel();
const char* toString(CpuLevel level);  // "avx2", "avx512": the `cpu_level` of inspect, bench, --json

}  // namespace cxr::detail
