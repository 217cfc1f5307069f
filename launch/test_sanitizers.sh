#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer): unit
# tests, the multi-rank tests under mpiexec -n 1..4 and the end-to-end tests of the cfps executable
# under mpirun, built into ${BUILD:-build-asan} with -DCFPS_SANITIZE=ON. Any report fails its test:
# UBSan is built with -fno-sanitize-recover, and the binaries carry their ASan/LSan defaults
# (launch/sanitizer_defaults.cc: Open MPI's exit-time allocations
# are suppressed, ours are not), so no ASAN_OPTIONS are needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
BUILD=${BUILD:-build-asan}
start=$(date +%s)
# CPU-only: CUDA code cannot run here, and its runtime is not built for the sanitizers.
cmake -S . -B "$BUILD" -DCFPS_SANITIZE=ON -DCFPS_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
built=$(date +%s)
. launch/env.sh
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ctest --test-dir "$BUILD" --output-on-failure -j2 --timeout 900
echo "test_sanitizers: build $((built - start)) s, tests $(($(date +%s) - built)) s" >&2
