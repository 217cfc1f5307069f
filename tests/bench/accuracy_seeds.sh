#!/usr/bin/env bash
# Accuracy study on ml-100k (issue 2): is cfps's final validation MSE that of fastbook's recipe?
# For each seed S, cfps and the PyTorch reference (tests/bench/torch_dotproductbias.py) train on the
# same split (fastai's RandomSplitter(valid_pct=0.2, seed=S), reproduced bit for bit by both) with
# fastai's recipe: fit_one_cycle(5, 5e-3, wd=0.1), batch 64, 50 factors, y_range (0, 5.5).
# Columns: cfps (single process, lazy Adam on the rows in the batch), torch with fastai's dense Adam
# (--optimizer fastai), torch with the same Adam applied lazily (--optimizer lazy, as cfps). The
# seeds differ in split, initial values and batch order, so the spread over seeds is the yardstick
# for a difference between columns: the table ends with the mean and standard deviation (n-1) per
# column and the mean paired difference cfps - torch with its standard error (sd of the n paired
# differences / sqrt(n)).
#
#   nice -n 10 bash tests/bench/accuracy_seeds.sh        # about 1 min per seed on 2 busy cores
#   SEEDS="0 1 2" ML100K=/path/to/u.data bash tests/bench/accuracy_seeds.sh
#
# Environment: ML100K (data file; default ../shared/data/ml-100k/u.data relative to the repo root),
# SEEDS ("0 1 2 3 4 5 6 7 8 9"), TORCH_PYTHON (/usr/bin/python3), DENSE_OPTIMIZER (fastai; adamw is
# torch.optim.AdamW with the same arithmetic). Without torch the torch columns show "-".
# This is a benchmark, not a test: it asserts nothing and exits 0 unless a run fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${ML100K:-$ROOT/../shared/data/ml-100k/u.data}
SEEDS=${SEEDS:-0 1 2 3 4 5 6 7 8 9}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
DENSE_OPTIMIZER=${DENSE_OPTIMIZER:-fastai}
TORCH_SCRIPT=$ROOT/tests/bench/torch_dotproductbias.py
RECIPE=(--epochs 5 --lr 5e-3 --wd 0.1 --batch-size 64 --factors 50 --valid-pct 0.2)

if [ ! -f "$DATA" ]; then
  echo "accuracy_seeds: skipped: no ml-100k ratings file at $DATA (set ML100K=/path/to/u.data)"
  exit 0
fi
if [ ! -x "$ROOT/build/cfps" ]; then
  echo "accuracy_seeds: $ROOT/build/cfps is missing; building it with launch/build.sh" >&2
  bash "$ROOT/launch/build.sh" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cfps-accuracy.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# Run a snapshot, so that a rebuild of build/cfps during the study cannot change it under a run.
cp "$ROOT/build/cfps" "$TMP/cfps"
CFPS=$TMP/cfps
"$CFPS" train --help >/dev/null 2>&1 || { echo "accuracy_seeds: $ROOT/build/cfps does not run" >&2; exit 1; }

HAVE_TORCH=1
if ! "$TORCH_PYTHON" -c 'import torch, numpy' >/dev/null 2>&1; then
  HAVE_TORCH=0
fi

echo "== cfps accuracy on ml-100k over seeds: final valid MSE after 5 epochs"
echo "host: $(uname -n), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "cfps: $ROOT/build/cfps (built $(date -u -r "$ROOT/build/cfps" '+%Y-%m-%d %H:%M:%S UTC'), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "data: $DATA"
echo "cfps:  build/cfps train --data DATA ${RECIPE[*]} --y-range 0 5.5 --seed S"
if [ "$HAVE_TORCH" = 1 ]; then
  echo "torch: $TORCH_PYTHON tests/bench/torch_dotproductbias.py --data DATA ${RECIPE[*]} --seed S --optimizer $DENSE_OPTIMIZER|lazy"
  echo "       (torch $("$TORCH_PYTHON" -c 'import torch; print(torch.__version__)'), 1 thread)"
else
  echo "torch: skipped: $TORCH_PYTHON cannot import torch and numpy (set TORCH_PYTHON); torch columns show -"
fi
echo

# Final valid_mse of a --metrics-out file (its last line).
cfps_mse() {
  awk 'match($0, /"valid_mse": *[-+0-9.eE]+/) { s = substr($0, RSTART, RLENGTH); sub(/^[^:]*: */, "", s); v = s }
       END { if (v == "") exit 1; print v }' "$1"
}
# valid_mse= of the torch script's final line.
torch_mse() {
  awk '/^torch: ratings_per_s=/ { for (i = 2; i <= NF; i++) if ($i ~ /^valid_mse=/) { sub(/^valid_mse=/, "", $i); v = $i } }
       END { if (v == "") exit 1; print v }' "$1"
}
run_torch() {  # seed, optimizer -> prints the MSE
  local out=$TMP/torch_$2_$1.out
  if ! "$TORCH_PYTHON" "$TORCH_SCRIPT" --data "$DATA" "${RECIPE[@]}" --seed "$1" --optimizer "$2" \
      >"$out" 2>&1; then
    echo "accuracy_seeds: FAILED: torch --seed $1 --optimizer $2" >&2
    tail -5 "$out" >&2
    exit 1
  fi
  torch_mse "$out" || { echo "accuracy_seeds: no valid_mse in $out" >&2; tail -5 "$out" >&2; exit 1; }
}

printf '%-6s %10s %12s %11s\n' "seed" "cfps" "torch dense" "torch lazy"
: >"$TMP/table"
for s in $SEEDS; do
  if ! "$CFPS" train --data "$DATA" "${RECIPE[@]}" --y-range 0 5.5 --seed "$s" \
      --metrics-out "$TMP/cfps_$s.jsonl" >"$TMP/cfps_$s.out" 2>&1; then
    echo "accuracy_seeds: FAILED: cfps train --seed $s" >&2
    tail -5 "$TMP/cfps_$s.out" >&2
    exit 1
  fi
  c=$(cfps_mse "$TMP/cfps_$s.jsonl")
  if [ "$HAVE_TORCH" = 1 ]; then
    d=$(run_torch "$s" "$DENSE_OPTIMIZER")
    l=$(run_torch "$s" lazy)
  else
    d=-; l=-
  fi
  echo "$s $c $d $l" >>"$TMP/table"
  awk '{ printf "%-6s", $1; for (i = 2; i <= 4; i++) printf(i == 2 ? " %10s" : (i == 3 ? " %12s" : " %11s"), $i == "-" ? "-" : sprintf("%.4f", $i)); printf "\n" }' \
    <<<"$s $c $d $l"
done

# mean and sd (n-1) per column; paired differences cfps - torch with their standard errors.
awk -v dense="$DENSE_OPTIMIZER" '
  { n++; for (i = 2; i <= 4; i++) x[i, n] = $i }
  function mean(i,   k, t) { t = 0; for (k = 1; k <= n; k++) t += x[i, k]; return t / n }
  function sd(i,   k, m, t) { if (n < 2) return "nan"; m = mean(i); t = 0
    for (k = 1; k <= n; k++) t += (x[i, k] - m) ^ 2; return sqrt(t / (n - 1)) }
  function cell(v, w) { return sprintf("%" w "s", v == "nan" ? "-" : sprintf("%.4f", v)) }
  function paired(j, name,   k, m, t, d, se) {
    m = 0; for (k = 1; k <= n; k++) m += x[2, k] - x[j, k]; m /= n
    t = 0; for (k = 1; k <= n; k++) { d = x[2, k] - x[j, k] - m; t += d * d }
    if (n < 2) { printf "cfps - %s: mean %+.4f over 1 seed (no standard error)\n", name, m; return }
    se = sqrt(t / (n - 1)) / sqrt(n)
    printf "cfps - %-12s mean %+.4f, standard error %.4f (t = %.2f, %d seeds; sd of the differences %.4f)\n",
      name ":", m, se, (se > 0 ? m / se : 0), n, sqrt(t / (n - 1))
  }
  END {
    if (n == 0) exit
    torch = (x[3, 1] != "-")
    printf "%-6s %s %s %s\n", "mean", cell(mean(2), 10), torch ? cell(mean(3), 12) : sprintf("%12s", "-"),
      torch ? cell(mean(4), 11) : sprintf("%11s", "-")
    printf "%-6s %s %s %s\n", "std", cell(sd(2), 10), torch ? cell(sd(3), 12) : sprintf("%12s", "-"),
      torch ? cell(sd(4), 11) : sprintf("%11s", "-")
    if (!torch) exit
    print ""
    paired(3, "torch dense")
    paired(4, "torch lazy")
    # two-sided 5% critical values of Student t for n-1 = 1..10 degrees of freedom
    split("12.71 4.30 3.18 2.78 2.57 2.45 2.36 2.31 2.26 2.23", crit, " ")
    printf "(torch dense: --optimizer %s; t = mean / standard error, %d degrees of freedom: |t| > %s is\n",
      dense, n - 1, (n - 1 <= 10 && n > 1) ? crit[n - 1] : "about 2"
    print " a difference at the two-sided 5% level)"
  }' "$TMP/table"
