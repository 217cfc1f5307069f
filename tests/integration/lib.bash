# Helpers for the end-to-end tests (sourced). $CFPS is the executable under test.
set -euo pipefail
CFPS=${1:?usage: $0 path/to/cfps [source dir]}
SRC=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d /tmp/cfps_it.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
. "$SRC/launch/env.sh"
# Bound every mpirun: a hang fails the test instead of stalling ctest.
MPIRUN="timeout -k 5 120 mpirun"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
# The MPI rank of process $1 (OMPI_COMM_WORLD_RANK, set by mpirun in its environment), or nothing:
# a process found by pgrep may have exited before its environment is read, which is no error.
rank_of() {
  { tr '\0' '\n' < "/proc/$1/environ"; } 2> /dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p' || true
}
