#!/usr/bin/env bash
# Speed benchmark on ml-100k: cfps in three modes and two batch sizes against the PyTorch reference
# of fastbook's DotProductBias (tests/bench/torch_dotproductbias.py), on the same machine.
#
#   bash tests/bench/ml100k_bench.sh            # from any directory
#   ML100K=/path/to/u.data RUNS=3 EPOCHS=5 bash tests/bench/ml100k_bench.sh
#
# Modes: single process (`cfps train`: one rank serves and trains), 1 server + 1 worker
# (`mpirun -np 2 cfps train --ps 1`), 1 server + 2 workers (`mpirun -np 3 cfps train --ps 1`).
# ratings/s: per run, the median over epochs 1..E-1 of ratings_per_s from --metrics-out (epoch 0 is
# warm-up; training loop only, validation excluded); the table shows the median of RUNS runs.
# The other columns come from the run with the median ratings/s: final valid MSE, bytes pulled and
# pushed per epoch (mean over epochs), and rank 0's CPU time against its wall time (the server in
# the mpirun modes; the server+worker rank in the single process).
# The PyTorch reference (Debian's /usr/bin/python3 with python3-torch, 1 thread) is measured the
# same way (median of epochs 1..E-1, median of TORCH_RUNS runs) at TORCH_BATCHES (default 64 and
# 1024; batch 64 is fastbook's setting), and the table ends with the ratios cfps/torch.
#
# Environment: ML100K (data file; default ../shared/data/ml-100k/u.data relative to the repo root),
# RUNS (3), EPOCHS (5), BATCHES ("64 1024"), TORCH_RUNS (3), TORCH_BATCHES ("64 1024"),
# TORCH_PYTHON (/usr/bin/python3). Needs no jq: awk parses the JSON lines.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFPS=$ROOT/build/cfps
DATA=${ML100K:-$ROOT/../shared/data/ml-100k/u.data}
RUNS=${RUNS:-3}
EPOCHS=${EPOCHS:-5}
BATCHES=${BATCHES:-64 1024}
TORCH_RUNS=${TORCH_RUNS:-3}
TORCH_BATCHES=${TORCH_BATCHES:-64 1024}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}

if [ ! -f "$DATA" ]; then
  echo "ml100k_bench: skipped: no ml-100k ratings file at $DATA (set ML100K=/path/to/u.data)"
  exit 0
fi
if [ ! -x "$CFPS" ]; then
  echo "ml100k_bench: $CFPS is missing; building it with launch/build.sh" >&2
  bash "$ROOT/launch/build.sh" >&2
fi
# shellcheck source=/dev/null
. "$ROOT/launch/env.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cfps-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Run a snapshot of the executable, so that a rebuild of build/cfps during the benchmark (other
# work on the same tree) cannot swap or truncate it under a run.
cp "$ROOT/build/cfps" "$TMP/cfps"
CFPS=$TMP/cfps
"$CFPS" train --help >/dev/null 2>&1 || { echo "ml100k_bench: $ROOT/build/cfps does not run (being rebuilt?)" >&2; exit 1; }

# median of the numbers on stdin (one per line); "nan" when there are none
median() {
  sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# From a --metrics-out file: "steady_rate final_valid_mse pulled_per_epoch pushed_per_epoch"
summarize_metrics() {
  awk '
    function num(key,   s) {
      if (!match($0, "\"" key "\": *[-+0-9.eE]+")) return "nan"
      s = substr($0, RSTART, RLENGTH); sub(/^[^:]*: */, "", s); return s + 0
    }
    { n++; rate[n] = num("ratings_per_s"); mse = num("valid_mse")
      pulled += num("bytes_pulled"); pushed += num("bytes_pushed") }
    END {
      if (n == 0) { print "nan nan nan nan"; exit }
      first = (n > 1) ? 2 : 1; m = 0
      for (i = first; i <= n; i++) s[++m] = rate[i]
      for (i = 2; i <= m; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
      med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
      printf "%.6g %.6f %.0f %.0f\n", med, mse, pulled / n, pushed / n
    }' "$1"
}

# From cfps stdout: "cpu wall pct" of rank 0
rank0_usage() {
  awk '/^cfps: rank 0 \(/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "cpu") c = $(i + 1)
      if ($i == "wall") { w = $(i + 1); p = $(i + 3) }
    }
    gsub(/[(),%]/, "", p); print c, w, p; found = 1 }
    END { if (!found) print "nan nan nan" }' "$1"
}

now() { date +%s.%N; }

MODES="single 1+1 1+2"
mode_label() {
  case $1 in
    single) echo "single process" ;;
    1+1) echo "1 server + 1 worker" ;;
    1+2) echo "1 server + 2 workers" ;;
  esac
}
# sets CMD (an array) to the command line of a mode
mode_cmd() {
  case $1 in
    single) CMD=("$CFPS" train) ;;
    1+1) CMD=(mpirun -np 2 "$CFPS" train --ps 1) ;;
    1+2) CMD=(mpirun -np 3 "$CFPS" train --ps 1) ;;
  esac
}

echo "== cfps ml-100k speed benchmark"
echo "host: $(uname -n), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "cfps: $ROOT/build/cfps (built $(date -u -r "$ROOT/build/cfps" '+%Y-%m-%d %H:%M:%S UTC'), run from a copy)"
echo "data: $DATA"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > 0.5 * n) }'; then
  echo "warning: the 1-minute load average is high for $(nproc) cores: other jobs share the machine, rates will be noisy"
fi
for mode in single 1+1 1+2; do mode_cmd "$mode"; echo "command: ${CMD[*]/#"$CFPS"/build/cfps} --data DATA --batch-size B --epochs $EPOCHS --metrics-out FILE"; done
if [ "$EPOCHS" -gt 1 ]; then steady="median of epochs 1..$((EPOCHS - 1))"; else steady="epoch 0"; fi
echo "runs per cell: $RUNS, epochs: $EPOCHS; ratings/s = median over runs of ($steady ratings_per_s, training loop only)"
echo

declare -A RATE MSE PULLED PUSHED USAGE WALL
bench_start=$(now)
for mode in $MODES; do
  for b in $BATCHES; do
    : >"$TMP/runs"
    for ((r = 1; r <= RUNS; r++)); do
      tag="${mode}_${b}_${r}"
      mode_cmd "$mode"
      CMD+=(--data "$DATA" --batch-size "$b" --epochs "$EPOCHS" --metrics-out "$TMP/$tag.json")
      t0=$(now)
      if ! "${CMD[@]}" >"$TMP/$tag.out" 2>&1; then
        echo "ml100k_bench: FAILED: ${CMD[*]}" >&2
        cat "$TMP/$tag.out" >&2
        exit 1
      fi
      t1=$(now)
      read -r rate mse pulled pushed < <(summarize_metrics "$TMP/$tag.json")
      read -r cpu wall pct < <(rank0_usage "$TMP/$tag.out")
      echo "$rate $mse $pulled $pushed $cpu $wall $pct $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')" >>"$TMP/runs"
    done
    med=$(cut -d' ' -f1 "$TMP/runs" | median)
    # the run whose rate is closest to the median supplies the other columns
    read -r rate mse pulled pushed cpu wall pct cmdwall < <(awk -v m="$med" '
      { d = $1 - m; if (d < 0) d = -d; if (NR == 1 || d < best) { best = d; line = $0 } }
      END { print line }' "$TMP/runs")
    RATE[$mode,$b]=$med
    MSE[$mode,$b]=$mse
    PULLED[$mode,$b]=$pulled
    PUSHED[$mode,$b]=$pushed
    USAGE[$mode,$b]="$cpu/$wall s ($pct%)"
    WALL[$mode,$b]=$cmdwall
  done
done

fmt_rate() { awk -v x="$1" 'BEGIN { if (x == "nan") print "nan"; else printf "%.3g\n", x }'; }
fmt_mb() { awk -v x="$1" 'BEGIN { printf "%.1f MB\n", x / 1e6 }'; }

printf '%-22s %6s %11s %10s %11s %11s %-22s %8s\n' \
  "mode" "batch" "ratings/s" "valid MSE" "pulled/ep" "pushed/ep" "rank0 cpu/wall" "cmd s"
for mode in $MODES; do
  for b in $BATCHES; do
    printf '%-22s %6s %11s %10.4f %11s %11s %-22s %8s\n' "$(mode_label "$mode")" "$b" \
      "$(fmt_rate "${RATE[$mode,$b]}")" "${MSE[$mode,$b]}" "$(fmt_mb "${PULLED[$mode,$b]}")" \
      "$(fmt_mb "${PUSHED[$mode,$b]}")" "${USAGE[$mode,$b]}" "${WALL[$mode,$b]}"
  done
done
echo "(rank0 cpu/wall: the server rank in the mpirun modes, the server+worker rank in the single process;"
echo " cmd s: the whole command's wall time, MPI start-up and data loading included)"
echo

echo "== PyTorch reference (tests/bench/torch_dotproductbias.py, 1 thread, dense fastai-style Adam)"
declare -A TRATE TMSE
if ! "$TORCH_PYTHON" -c 'import torch' >/dev/null 2>&1; then
  echo "skipped: python3-torch not installed"
else
  echo "command: $TORCH_PYTHON $ROOT/tests/bench/torch_dotproductbias.py --data DATA --batch-size B --epochs $EPOCHS"
  printf '%-22s %6s %11s %10s\n' "mode" "batch" "ratings/s" "valid MSE"
  for b in $TORCH_BATCHES; do
    : >"$TMP/truns"
    for ((r = 1; r <= TORCH_RUNS; r++)); do
      if ! "$TORCH_PYTHON" "$ROOT/tests/bench/torch_dotproductbias.py" --data "$DATA" \
          --batch-size "$b" --epochs "$EPOCHS" >"$TMP/torch_${b}_$r.out" 2>&1; then
        echo "ml100k_bench: FAILED: torch reference at batch $b" >&2
        cat "$TMP/torch_${b}_$r.out" >&2
        exit 1
      fi
      awk '/^torch: ratings_per_s=/ {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print v["ratings_per_s"], v["valid_mse"] }' "$TMP/torch_${b}_$r.out" >>"$TMP/truns"
    done
    TRATE[$b]=$(cut -d' ' -f1 "$TMP/truns" | median)
    TMSE[$b]=$(cut -d' ' -f2 "$TMP/truns" | head -n1)
    printf '%-22s %6s %11s %10.4f\n' "torch (1 thread)" "$b" "$(fmt_rate "${TRATE[$b]}")" "${TMSE[$b]}"
  done
  echo
  echo "== ratio cfps / torch (ratings/s)"
  for b in $TORCH_BATCHES; do
    for mode in $MODES; do
      [ -n "${RATE[$mode,$b]:-}" ] || continue
      printf '%-22s %6s %10sx\n' "$(mode_label "$mode")" "$b" \
        "$(awk -v a="${RATE[$mode,$b]}" -v t="${TRATE[$b]}" 'BEGIN { printf "%.1f", a / t }')"
    done
  done
fi
echo
echo "total benchmark time: $(awk -v a="$bench_start" -v b="$(now)" 'BEGIN{printf "%.0f", b - a}') s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
