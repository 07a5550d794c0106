#!/usr/bin/env bash
# Builds everything and runs the whole test suite under CTest. Widget tests run offscreen.
# Then, unless ctest arguments select a slice or CXR_SKIP_SANITIZED=1, the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer (scripts/run-sanitized-tests.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh -DCXR_BUILD_TESTS=ON
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
(cd "${CXR_BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j "${CXR_TEST_JOBS:-2}" "$@")
if [[ $# -eq 0 && -z ${CXR_SKIP_SANITIZED:-} ]]; then
  bash scripts/run-sanitized-tests.sh
fi
