// The instruction-set level the engine works at: which variant of our own kernels runs, and whether
// bf16 matrix products may go through libtorch's oneDNN path (which needs AVX-512). Decided once per
// process from the CPU's features, as llama.cpp's ggml-cpu picks the best of its compiled variants
// the CPU supports; CXR_CPU_LEVEL=avx2 in the environment lowers it so that any machine behaves as
// an AVX2-only CPU does (tests and benchmarks of the AVX2 path).
//
// At Avx2 no bf16 matrix product reaches libtorch: without AVX-512 libtorch 1.13 runs them in ATen's
// generic GEMM (about 1 GFLOP/s, against hundreds through oneDNN), and with oneDNN capped at AVX2
// (ONEDNN_MAX_CPU_ISA=AVX2) its bf16 matmul aborts. core/products.h widens them to fp32 instead.
#pragma once

namespace cxr::detail {

enum class CpuLevel {
  Avx2,    // AVX2 + FMA + F16C (x86-64 since Haswell)
  Avx512,  // AVX-512 F/BW/VL/DQ + BF16 (Zen 4, Sapphire Rapids and later)
};

CpuLevel cpuLevel();
const char* toString(CpuLevel level);  // "avx2", "avx512": the `cpu_level` of inspect, bench, --json

// Whether the CPU has what the Avx2 level's kernels need (AVX2, FMA, F16C). Older CPUs cannot run
// the engine in bf16; Model::load says so (f32 compute still works there).
bool cpuHasAvx2();

// Whether libtorch's own vectorised CPU kernels run at ATen's AVX2 level in this process: libtorch
// 1.13 takes that level on any CPU with AVX2 unless ATEN_CPU_CAPABILITY names another (its AVX-512
// kernels are opt-in). The one-pass forms that repeat an ATen kernel's order of operations
// (fused_elementwise.cpp's softmax, rms_norm.cpp's sum) are only tried where it holds.
bool atenKernelsAtAvx2();

}  // namespace cxr::detail
