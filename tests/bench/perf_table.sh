#!/usr/bin/env bash
# One benchmark, one run, one table (issue 6): cfps at the ML-25M shape and on ml-100k, in the three
# modes, next to the references that are present, on the same machine in the same invocation.
#
#   bash tests/bench/perf_table.sh                    # from any directory; about 5 minutes
#   LIBMF=/path/to/mf-train bash tests/bench/perf_table.sh
#
# Data: the ML-25M shape (cfps gen: 162,541 users, 59,047 items, 25,000,000 ratings, Zipf items,
# planted rank-16 model), written once as a prepared file under $BENCH_DIR (default
# /tmp/cfps-bench); ml-100k u.data from ../shared/data/ml-100k when present.
# Each cfps row trains EPOCHS (2) epochs; ratings/s and seconds/epoch are those of the last epoch
# (steady state: the training loop only, evaluation excluded from ratings/s, included in s/epoch);
# bytes on the wire are pulled + pushed in that epoch; peak RSS per rank with each rank's memory
# plan; final valid RMSE. References: PyTorch (Debian's python3-torch, fastbook's DotProductBias,
# 1 thread) on ml-100k; LIBMF (plain P.Q, no biases) when $LIBMF names its mf-train; each is
# reported as skipped when absent.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFPS=${CFPS:-$ROOT/build/cfps}
BENCH_DIR=${BENCH_DIR:-/tmp/cfps-bench}
ML100K=${ML100K:-$ROOT/../shared/data/ml-100k/u.data}
EPOCHS=${EPOCHS:-2}
PY=${TORCH_PYTHON:-/usr/bin/python3}
. "$ROOT/launch/env.sh"
mkdir -p "$BENCH_DIR"
ROWS=$BENCH_DIR/rows.tsv
: > "$ROWS"
[ -x "$CFPS" ] || { echo "perf_table: build first (bash launch/build.sh): no $CFPS" >&2; exit 1; }

ML25M=$BENCH_DIR/ml25m-shape.cfpsr
if [ ! -s "$ML25M" ]; then
  "$CFPS" gen --users 162541 --items 59047 --ratings 25000000 --factors 16 --out "$ML25M"
fi

# run NAME DATASET K BATCH OPT MODE -- cfps train options...
run() {
  local name=$1 dataset=$2 k=$3 batch=$4 opt=$5 mode=$6; shift 7
  local m=$BENCH_DIR/$name.jsonl out=$BENCH_DIR/$name.out
  local launcher=()
  case $mode in
    single) ;;
    1+1) launcher=(mpirun -np 2) ;;
    1+2) launcher=(mpirun -np 3) ;;
  esac
  echo "perf_table: $name: ${launcher[*]} cfps train $* --factors $k --batch-size $batch --optimizer $opt" >&2
  "${launcher[@]}" "$CFPS" train "$@" --factors "$k" --batch-size "$batch" --optimizer "$opt" \
    --epochs "${RUN_EPOCHS:-$EPOCHS}" --metrics-out "$m" > "$out"
  "$PY" - "$m" "$out" "$dataset" "$k" "$batch" "$opt" "$mode" >> "$ROWS" <<'PYEOF'
import json, re, sys
m, out, dataset, k, batch, opt, mode = sys.argv[1:]
last = [json.loads(l) for l in open(m) if l.strip()][-1]
rss = re.findall(r"peak RSS (\d+) MB \(plan (\d+) MB", open(out).read())
rss_text = " / ".join(f"{a} ({b})" for a, b in rss)
wire = last["bytes_pulled"] + last["bytes_pushed"]
print("\t".join([dataset, k, batch, opt, mode, f"{last['ratings_per_s']:.3g}",
                 f"{last['seconds']:.1f}", rss_text, f"{wire / 1e9:.2f} GB", f"{last['valid_rmse']:.4f}"]))
PYEOF
}

S25=(--data "$ML25M" --lr 0.05 --wd 0.01)
run m25_sgd_1024 ml25m-shape 64 1024 sgd single -- "${S25[@]}"
run m25_adagrad_1024 ml25m-shape 64 1024 adagrad single -- "${S25[@]}"
run m25_adam_1024 ml25m-shape 64 1024 adam single -- --data "$ML25M" --lr 5e-3
run m25_sgd_4096 ml25m-shape 64 4096 sgd single -- "${S25[@]}"
run m25_sgd_4096_11 ml25m-shape 64 4096 sgd 1+1 -- "${S25[@]}" --ps 1
run m25_sgd_4096_12 ml25m-shape 64 4096 sgd 1+2 -- "${S25[@]}" --ps 1

if [ -s "$ML100K" ]; then
  for mode in single 1+1 1+2; do
    ps=(); [ "$mode" = single ] || ps=(--ps 1)
    RUN_EPOCHS=5 run "m100k_adam_64_$mode" ml-100k 50 64 adam "$mode" -- --data "$ML100K" "${ps[@]}"
  done
  if "$PY" -c "import torch" 2> /dev/null; then
    t=$("$PY" "$ROOT/tests/bench/torch_dotproductbias.py" --data "$ML100K" --epochs "$EPOCHS" \
          --batch-size 64 --optimizer fastai 2>&1 | grep '^torch:')
    rps=$(sed -E 's/.*ratings_per_s=([0-9.e+]+) .*/\1/' <<< "$t")
    mse=$(sed -E 's/.*valid_mse=([0-9.e+]+) .*/\1/' <<< "$t")
    printf "ml-100k\t50\t64\tadam\tPyTorch (1 thread)\t%.3g\t-\t-\t-\t%.4f\n" "$rps" \
      "$("$PY" -c "print($mse ** 0.5)")" >> "$ROWS"
  else
    printf "ml-100k\t50\t64\tadam\tPyTorch: skipped (no python3-torch)\t-\t-\t-\t-\t-\n" >> "$ROWS"
  fi
else
  printf "ml-100k\t-\t-\t-\tskipped: %s not found\t-\t-\t-\t-\t-\n" "$ML100K" >> "$ROWS"
fi
if [ -n "${LIBMF:-}" ] && [ -x "$LIBMF" ]; then
  # The same ratings as LIBMF's text input (0-based "user item rating"), made once; LIBMF trains
  # EPOCHS iterations with k=64 on every core; rating updates/s = ratings * iterations / wall time
  # of mf-train (its load included: LIBMF prints no training-only time).
  LIBMF_DATA=$BENCH_DIR/ml25m-shape.libmf
  if [ ! -s "$LIBMF_DATA" ]; then
    "$CFPS" gen --users 162541 --items 59047 --ratings 25000000 --factors 16 --out "$BENCH_DIR/ml25m-shape.tsv"
    awk '{print $1 - 1, $2 - 1, $3}' "$BENCH_DIR/ml25m-shape.tsv" > "$LIBMF_DATA"
  fi
  /usr/bin/time -f "%e %M" -o "$BENCH_DIR/libmf.time" "$LIBMF" -k 64 -t "$EPOCHS" -s "$(nproc)" \
    "$LIBMF_DATA" "$BENCH_DIR/libmf.model" > "$BENCH_DIR/libmf.out"
  read -r wall rss_kb < "$BENCH_DIR/libmf.time"
  printf "ml25m-shape\t64\t-\tsgd (P.Q only)\tLIBMF, %s threads\t%.3g\t%.1f\t%d\t-\t-\n" "$(nproc)" \
    "$("$PY" -c "print(25e6 * $EPOCHS / $wall)")" "$("$PY" -c "print($wall / $EPOCHS)")" \
    $((rss_kb / 1024)) >> "$ROWS"
else
  printf "ml25m-shape\t64\t-\tsgd\tLIBMF: skipped (set LIBMF=/path/to/mf-train)\t-\t-\t-\t-\t-\n" >> "$ROWS"
fi

"$PY" - "$ROWS" <<'PYEOF'
import sys
head = ["data set", "k", "batch", "optimizer", "mode", "ratings/s", "s/epoch",
        "peak RSS MB per rank (plan)", "wire/epoch", "valid RMSE"]
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" for _ in head) + "|")
for r in rows:
    print("| " + " | ".join(r) + " |")
PYEOF
