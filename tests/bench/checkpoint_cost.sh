#!/usr/bin/env bash
# Checkpoint cost at the ML-25M shape (162,541 users, 59,047 items, k=64, Adam state): bytes,
# seconds to write and to load, and peak RSS, against a run that does not checkpoint (the
# difference shows whether a second copy of the tables is made). Not part of ctest.
#   bash tests/bench/checkpoint_cost.sh            (RATINGS=500000 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CFPS=$ROOT/build/cfps
[ -x "$CFPS" ] || bash "$ROOT/launch/build.sh"
. "$ROOT/launch/env.sh"
W=$(mktemp -d /tmp/cfps_ckbench.XXXXXX)
trap 'rm -rf "$W"' EXIT
RATINGS=${RATINGS:-500000}
# Every user and item occurs at least once, so the tables have the full ML-25M shape.
"$CFPS" gen --users 162541 --items 59047 --ratings "$RATINGS" --seed 1 --out "$W/r.data" 2>/dev/null
C=(--data "$W/r.data" --factors 64 --epochs 1 --batch-size 65536 --valid-pct 0)
rss() { sed -n 's/.*rank \([0-9]*\) (\(.*\)):.*peak RSS \([0-9]*\) MB/rank \1 \2 \3 MB/p' "$1" | tr '\n' ';'; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
"$CFPS" train "${C[@]}" > "$W/plain.out"
echo "no checkpoint, single process:      peak RSS $(rss "$W/plain.out")"
"$CFPS" train "${C[@]}" --checkpoint-dir "$W/ck" > "$W/save.out"
echo "write, single process:              $(grep 'cfps: checkpoint .*MB in' "$W/save.out" | sed 's/.*: \([0-9.]* MB in [0-9.]* s\)/\1/'); peak RSS $(rss "$W/save.out")"
"$CFPS" train "${C[@]}" --resume "$W/ck" > "$W/load.out"
echo "load, single process:               $(grep -o 'at step.*loaded in [0-9.]* s' "$W/load.out" | grep -o 'loaded in.*'); peak RSS $(rss "$W/load.out")"
mpirun -np 3 "$CFPS" train "${C[@]}" --ps 2 --resume "$W/ck" > "$W/load2.out"
echo "load 1 -> 2 servers (+1 worker):    $(grep -o 'at step.*loaded in [0-9.]* s' "$W/load2.out" | grep -o 'loaded in.*'); peak RSS $(rss "$W/load2.out")"
mpirun -np 3 "$CFPS" train "${C[@]}" --ps 2 --checkpoint-dir "$W/ck2" > "$W/save2.out"
echo "write, 2 servers in parallel:       $(grep 'cfps: checkpoint .*MB in' "$W/save2.out" | sed 's/.*: \([0-9.]* MB in [0-9.]* s\)/\1/'); peak RSS $(rss "$W/save2.out")"
