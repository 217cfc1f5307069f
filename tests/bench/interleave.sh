#!/usr/bin/env bash
# A/B timing on a noisy machine: runs `cfps train` with two or more builds of cfps in turn, round
# after round (A B A B ...), so that each round's runs share the machine's state of the moment,
# and prints each build's median ratings per second (the last epoch's, from --metrics-out) and
# the median over rounds of its ratio to the first build's run of the same round. On the 2-vCPU
# development VM the speed of a run swings up to 2.5x within an hour; the ratio of neighbouring
# runs drifts far less. Compare builds this way, never across separate runs.
#
#   bash tests/bench/interleave.sh [-r ROUNDS] [-l "LAUNCHER"] CFPS_A CFPS_B [...] -- TRAIN_ARGS
#
#   # two builds, 6 rounds, one process:
#   bash tests/bench/interleave.sh -r 6 /tmp/cfps_old build/cfps -- \
#     --data /tmp/cfps-bench/ml25m-shape.cfpsr --factors 64 --epochs 1 --batch-size 1024 \
#     --optimizer adam --lr 5e-3 --order blocked
#   # 1 server + 1 worker:
#   bash tests/bench/interleave.sh -l "mpirun -np 2" /tmp/cfps_old build/cfps -- --ps 1 ...
#
# A "build" may be any executable that takes cfps's arguments (a wrapper script that sets an
# environment variable, say). Rounds default to 5; each run's figure is printed as it comes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=5
launcher=""
usage() {
  echo "usage: interleave.sh [-r ROUNDS] [-l LAUNCHER] CFPS_A CFPS_B [...] -- TRAIN_ARGS" >&2
  exit 2
}
bins=()
while [ $# -gt 0 ]; do
  case $1 in
    -r) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
    -l) [ $# -ge 2 ] || usage; launcher=$2; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -ge 2 ] || usage
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "interleave.sh: -r must be a positive integer, got '$rounds'" >&2; exit 2; }
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "interleave.sh: not an executable: $b" >&2; exit 2; }
done
. "$ROOT/launch/env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv
: > "$results"
for r in $(seq "$rounds"); do
  for i in "${!bins[@]}"; do
    m=$work/m.jsonl
    rm -f "$m"
    # shellcheck disable=SC2086  # the launcher is words on purpose ("mpirun -np 2")
    if ! $launcher "${bins[$i]}" train "$@" --metrics-out "$m" > "$work/out" 2>&1; then
      echo "interleave.sh: round $r, ${bins[$i]} failed; its output:" >&2
      tail -20 "$work/out" >&2
      exit 1
    fi
    rate=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]["ratings_per_s"])' "$m")
    printf '%s\t%s\t%s\n' "$r" "$i" "$rate" >> "$results"
    printf 'round %s  %s  %.4g ratings/s\n' "$r" "${bins[$i]}" "$rate"
  done
done
python3 - "$results" "${bins[@]}" <<'PYEOF'
import statistics, sys
path, bins = sys.argv[1], sys.argv[2:]
rate = {}
for line in open(path):
    r, i, x = line.split()
    rate[(int(r), int(i))] = float(x)
rounds = sorted({r for r, _ in rate})
for i, b in enumerate(bins):
    mine = [rate[(r, i)] for r in rounds]
    ratio = statistics.median(rate[(r, i)] / rate[(r, 0)] for r in rounds)
    print(f"{b}: median {statistics.median(mine):.4g} ratings/s (rounds {min(mine):.3g} to "
          f"{max(mine):.3g}), median ratio to {bins[0]} {ratio:.3f}")
PYEOF
