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
