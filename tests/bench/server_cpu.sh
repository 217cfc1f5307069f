#!/usr/bin/env bash
# Does the parameter server burn a core while it waits? Runs 1 server + 2 workers
# (`mpirun -np 3 cfps train --ps 1`) on a generated ml-100k-shaped file (`cfps gen`) and reports the
# server rank's CPU time against its wall time (from cfps's `cfps: rank 0 (server): cpu X s, wall Y s`
# line), plus the whole machine's busy share from /proc/stat over the run (getrusage under-reports
# MPI's sched_yield spinning; /proc/stat does not), next to a BASELINE_S-second sample taken just
# before the run (the machine may be shared: that share is other jobs, not cfps).
#
#   bash tests/bench/server_cpu.sh              # from any directory
#   EPOCHS=5 BATCH=64 MAX_PCT=60 SAMPLE_S=0.1 BASELINE_S=1 bash tests/bench/server_cpu.sh
#
# Exits 1 when the server's CPU time exceeds MAX_PCT (default 60) percent of its wall time; 2 when
# the run itself fails. A benchmark script, not part of ctest.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFPS=$ROOT/build/cfps
EPOCHS=${EPOCHS:-5}
BATCH=${BATCH:-64}
MAX_PCT=${MAX_PCT:-60}
SAMPLE_S=${SAMPLE_S:-0.1}
BASELINE_S=${BASELINE_S:-1}

if [ ! -x "$CFPS" ]; then
  echo "server_cpu: $CFPS is missing; building it with launch/build.sh" >&2
  bash "$ROOT/launch/build.sh" >&2
fi
# shellcheck source=/dev/null
. "$ROOT/launch/env.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cfps-server-cpu.XXXXXX")
SAMPLER=
cleanup() {
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# Run a snapshot of the executable: a concurrent rebuild of build/cfps cannot break the run.
cp "$ROOT/build/cfps" "$TMP/cfps"
CFPS=$TMP/cfps
"$CFPS" train --help >/dev/null 2>&1 || { echo "server_cpu: $ROOT/build/cfps does not run (being rebuilt?)" >&2; exit 2; }

# "busy total user system" jiffies of the aggregate cpu line (busy excludes idle and iowait)
cpu_jiffies() {
  awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i
    print t - $5 - $6, t, $2 + $3, $4 + $7 + $8; exit }' /proc/stat
}

"$CFPS" gen --out "$TMP/ratings.data" >"$TMP/gen.out" 2>&1 || { cat "$TMP/gen.out" >&2; exit 2; }

CMD=(mpirun -np 3 "$CFPS" train --ps 1 --data "$TMP/ratings.data" --epochs "$EPOCHS"
     --batch-size "$BATCH")
echo "== cfps server CPU while serving 2 workers"
echo "host: $(uname -n), $(nproc) cores, load average before the run $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: ${CMD[*]/#"$CFPS"/build/cfps}   (data: cfps gen --out FILE, ml-100k-shaped)"

# Background load of the machine (other jobs) just before the run, for comparison.
read -r qb0 qt0 _ _ < <(cpu_jiffies)
sleep "$BASELINE_S"
read -r qb1 qt1 _ _ < <(cpu_jiffies)
awk -v b="$((qb1 - qb0))" -v t="$((qt1 - qt0))" -v s="$BASELINE_S" 'BEGIN {
  printf "machine before the run (%s s idle baseline, other jobs): %.0f%% busy\n", s, (t > 0 ? 100 * b / t : 0) }'

# Background sampler: one /proc/stat line every SAMPLE_S seconds, for the peak interval.
( while :; do echo "$(date +%s.%N) $(cpu_jiffies)"; sleep "$SAMPLE_S"; done ) >"$TMP/samples" &
SAMPLER=$!

read -r busy0 total0 user0 sys0 < <(cpu_jiffies)
t0=$(date +%s.%N)
rc=0
"${CMD[@]}" >"$TMP/train.out" 2>&1 || rc=$?
t1=$(date +%s.%N)
read -r busy1 total1 user1 sys1 < <(cpu_jiffies)
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=

if [ "$rc" -ne 0 ]; then
  echo "server_cpu: FAILED (exit $rc): ${CMD[*]}" >&2
  cat "$TMP/train.out" >&2
  exit 2
fi

grep -E '^(epoch|[0-9]+ )' "$TMP/train.out" || true
grep '^cfps: rank ' "$TMP/train.out"

read -r cpu wall pct < <(awk '/^cfps: rank 0 \(server/ {
  for (i = 1; i <= NF; i++) { if ($i == "cpu") c = $(i + 1); if ($i == "wall") w = $(i + 1) }
  print c, w, (w > 0 ? 100 * c / w : 0); found = 1 }
  END { if (!found) print "nan nan nan" }' "$TMP/train.out")
if [ "$cpu" = nan ]; then
  echo "server_cpu: no 'cfps: rank 0 (server): cpu ...' line in the output" >&2
  cat "$TMP/train.out" >&2
  exit 2
fi

awk -v b0="$busy0" -v b1="$busy1" -v t0="$total0" -v t1="$total1" -v u0="$user0" -v u1="$user1" \
    -v s0="$sys0" -v s1="$sys1" -v w0="$t0" -v w1="$t1" -v n="$(nproc)" 'BEGIN {
  dt = t1 - t0; if (dt <= 0) dt = 1
  printf "machine (/proc/stat over the %.2f s mpirun, %d cores): %.0f%% busy (user %.0f%%, system %.0f%%)\n",
    w1 - w0, n, 100 * (b1 - b0) / dt, 100 * (u1 - u0) / dt, 100 * (s1 - s0) / dt }'
awk 'NR > 1 && $3 > pt { b = 100 * ($2 - pb) / ($3 - pt); if (b > peak) peak = b; sum += b; k++ }
  { pb = $2; pt = $3 }
  END { if (k) printf "machine, %d samples of ~%s s: mean %.0f%% busy, peak %.0f%%\n", k, s, sum / k, peak }' \
  s="$SAMPLE_S" "$TMP/samples"

printf 'server (rank 0): cpu %.2f s, wall %.2f s: %.0f%% of wall (limit %s%%)\n' "$cpu" "$wall" "$pct" "$MAX_PCT"
if awk -v p="$pct" -v m="$MAX_PCT" 'BEGIN { exit !(p > m) }'; then
  echo "server_cpu: FAIL: the server's CPU time is over ${MAX_PCT}% of its wall time"
  exit 1
fi
echo "server_cpu: OK"
