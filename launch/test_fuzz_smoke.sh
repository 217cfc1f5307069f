#!/usr/bin/env bash
# A short regression run of every libFuzzer target (tests/fuzz/), for CI: builds build-fuzz with
# clang if needed and runs each target for ${1:-5} seconds from its seed corpus. Any crash, leak,
# timeout or sanitizer report fails the script (the input is kept under build-fuzz/artifacts/).
# For a real campaign run tests/fuzz/run.sh with minutes or hours per target instead.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang++ >/dev/null || { echo "test_fuzz_smoke: clang++ is not installed" >&2; exit 1; }
start=$(date +%s)
bash tests/fuzz/run.sh "${1:-5}"
echo "test_fuzz_smoke: $(($(date +%s) - start)) s" >&2
