#!/usr/bin/env bash
# The engine's tests under AddressSanitizer + UndefinedBehaviorSanitizer: the model module alone
# (no viewer, assistant or app), in its own build folder. run-tests.sh runs it after the main suite;
# CXR_SKIP_SANITIZED=1 leaves it out. About 6 minutes to build on 2 cores, under a minute to test.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CXR_SANITIZED_BUILD_DIR:-build-sanitized}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCXR_SANITIZE=address;undefined" \
  -DCXR_BUILD_VIEWER=OFF -DCXR_BUILD_ASSISTANT=OFF -DCXR_BUILD_APP=OFF -DCXR_BUILD_TESTS=ON
cmake --build "$build_dir" -j "${CXR_JOBS:-$(nproc)}"
cd "$build_dir"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure --timeout 900 -j "${CXR_TEST_JOBS:-2}" "$@"
