// at::parallel_for for the engine's own kernels. Include this instead of <ATen/Parallel.h>: that
// header's parallel_for is a template, and in a file compiled without OpenMP it quietly runs the whole
// range on the calling thread (which once cost the decode gemv half of this 2-core machine).
#pragma once

#include <ATen/Parallel.h>

#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "Build with OpenMP (model/CMakeLists.txt links OpenMP::OpenMP_CXX): otherwise at::parallel_for runs serially."
#endif
