#!/usr/bin/env bash
# A short regression run of every libFuzzer target (tests/fuzz/), for CI: builds build-fuzz with
# clang if needed and runs each target for ${1:-5} seconds from its seed corpus. Any crash, leak,
# timeout or sanitizer report fails the script (the input is kept under build-fuzz/artifacts/).
# For a real campaign run tests/fuzz/run.sh with minutes or hours per target instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# clang and its fuzzer runtime (Debian 12: clang 14); installed only when missing.
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="${missing:-} $p"
done
if [ -n "${missing:-}" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends $missing ||
    { $SUDO apt-get -o DPkg::Lock::Timeout=300 update -q &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        --no-install-recommends $missing; }
fi
command -v clang++ >/dev/null || { echo "test_fuzz_smoke: clang++ is not installed" >&2; exit 1; }
start=$(date +%s)
bash tests/fuzz/run.sh "${1:-5}"
echo "test_fuzz_smoke: $(($(date +%s) - start)) s" >&2
