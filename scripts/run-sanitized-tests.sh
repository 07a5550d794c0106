#!/usr/bin/env bash
# The whole test suite again under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build
# folder: memory errors in the DICOM decoders (the fuzz tests feed them garbage), the engine's
# kernels and the GUI. run-tests.sh runs it after the main suite; CXR_SKIP_SANITIZED=1 leaves it out.
# About 13 minutes to build on 2 cores, 2 minutes to test.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CXR_SANITIZED_BUILD_DIR:-build-sanitized}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCXR_SANITIZE=address;undefined" \
  -DCXR_BUILD_TESTS=ON
cmake --build "$build_dir" -j "${CXR_JOBS:-$(nproc)}"
cd "$build_dir"
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure --timeout 900 -j "${CXR_TEST_JOBS:-2}" "$@"
