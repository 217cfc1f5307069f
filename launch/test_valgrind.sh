#!/usr/bin/env bash
# The multi-rank test binary (tests/mpi) under valgrind memcheck, ${1:-2} ranks, with the
# suppressions for Open MPI's own reports (tests/valgrind-mpi.supp, ../shared/TOOLCHAIN.md
# section 4). Fails (exit 9 from a rank) on any invalid read/write, use of uninitialised memory
# in a syscall or branch, or a definite leak of ours. Uses the regular build (${BUILD:-build}):
# valgrind and ASan do not mix.
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${1:-2}
BUILD=${BUILD:-build}
if ! command -v valgrind >/dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends valgrind
fi
[ -x "$BUILD/tests/mpi_tests" ] || BUILD=$BUILD bash launch/build.sh
. launch/env.sh
start=$(date +%s)
timeout -k 10 900 mpiexec -n "$NP" valgrind -q --error-exitcode=9 --leak-check=full \
  --errors-for-leak-kinds=definite --suppressions=tests/valgrind-mpi.supp \
  "$BUILD/tests/mpi_tests"
echo "test_valgrind: mpi_tests on $NP ranks clean under valgrind in $(($(date +%s) - start)) s" >&2
