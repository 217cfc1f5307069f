#!/usr/bin/env bash
# The README's second command: install what is missing, build, run the whole test suite (unit
# tests, multi-rank tests under mpiexec, end-to-end tests of the cfps executable).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
. launch/env.sh
ctest --test-dir "${BUILD:-build}" --output-on-failure -j2 --timeout 600
