#!/usr/bin/env bash
# --progress (README.md, "What it prints and writes"): lines at every 10% of each epoch on stderr
# (one process and under mpirun, where rank 0 is a server and the loss comes from the workers),
# nothing with none or with auto on a short run without a terminal, the bar under a
# pseudo-terminal (script(1)) whose last draw shows the epoch's train_loss, and the same model
# whatever the progress mode.
. "$(dirname "$0")/lib.bash"
command -v script >/dev/null || fail "script(1) from bsdutils is needed to fake a terminal"
"$CFPS" gen --users 300 --items 400 --ratings 20000 --out "$WORK/r.data" 2>/dev/null
# 16000 training ratings at batch 64: 250 steps an epoch.
C=(--data "$WORK/r.data" --epochs 2 --factors 8)

# Lines: for each epoch, 10% .. 90% at the first step that reaches them, on stderr only.
check_lines() {  # stderr-file prefix-regex
  local err=$1 prefix=$2 e d want got
  for e in 0 1; do
    for d in 1 2 3 4 5 6 7 8 9; do
      want=$(( (d * 250 + 9) / 10 ))  # ceil(d * 250 / 10)
      got=$(grep -cE "^$prefix: epoch $e +${d}0%  $want/250 steps  [0-9:]+<[0-9:]+  [0-9.e+]+ ratings/s  loss ([0-9]+\.[0-9]{4}|-)$" "$err" || true)
      [ "$got" = 1 ] || fail "epoch $e, ${d}0%: want one line at step $want: $(cat "$err")"
    done
  done
  [ "$(grep -c 'epoch' "$err")" = 18 ] || fail "not 18 progress lines: $(cat "$err")"
  # The running loss is known from step 16 on.
  grep -qE "epoch 0  50%  125/250 steps .* loss [0-9]+\.[0-9]{4}$" "$err" || fail "no running loss: $(cat "$err")"
}

"$CFPS" train "${C[@]}" --progress lines --export "$WORK/m_lines" >"$WORK/out" 2>"$WORK/err"
check_lines "$WORK/err" "cfps train"
grep -q ' steps ' "$WORK/out" && fail "progress on stdout: $(cat "$WORK/out")"
pass "lines: 9 an epoch at 10%..90%, on stderr"

"$CFPS" train "${C[@]}" --progress none --export "$WORK/m_none" >"$WORK/out" 2>"$WORK/err"
[ ! -s "$WORK/err" ] || fail "--progress none wrote to stderr: $(cat "$WORK/err")"
"$CFPS" train "${C[@]}" --export "$WORK/m_auto" >"$WORK/out" 2>"$WORK/err"
[ ! -s "$WORK/err" ] || fail "auto without a terminal, a short run: $(cat "$WORK/err")"
for f in user_factors.npy item_factors.npy user_bias.npy item_bias.npy; do
  cmp -s "$WORK/m_lines/$f" "$WORK/m_none/$f" && cmp -s "$WORK/m_lines/$f" "$WORK/m_auto/$f" ||
    fail "progress changed the model ($f)"
done
pass "none and auto (short run, no terminal): nothing on stderr; the same model"

# Under mpirun rank 0 serves; the loss comes from the two workers through the stop-check sum.
$MPIRUN -np 3 "$CFPS" train "${C[@]}" --ps 1 --progress lines --export "$WORK/m_mpi" \
  >"$WORK/out" 2>"$WORK/err" </dev/null
check_lines "$WORK/err" "cfps train\[rank 0 server\]"
$MPIRUN -np 3 "$CFPS" train "${C[@]}" --ps 1 --progress none --export "$WORK/m_mpi_none" \
  >/dev/null 2>&1 </dev/null
for f in user_factors.npy item_factors.npy; do
  cmp -s "$WORK/m_mpi/$f" "$WORK/m_mpi_none/$f" || fail "mpirun: progress changed the model ($f)"
done
pass "mpirun -np 3 --ps 1: lines from rank 0 (a server) with the workers' loss; the same model"

# The bar on a (pseudo-)terminal: auto picks it; redrawn with \r; its last draw of an epoch shows
# 100% and the loss the table prints as train_loss; in one process it is erased before each table
# line. (Through mpirun stdout and stderr travel separately, so a table line may land after the
# bar on its line: README says so.)
bar_check() {  # file label strict
  local f=$1 label=$2 strict=$3 e bar_loss table_loss text
  grep -q $'\repoch 0 |' "$f" || fail "$label: no bar: $(cat -v "$f")"
  text=$(tr '\r' '\n' < "$f" | sed 's/\x1b\[K//g')
  for e in 0 1; do
    bar_loss=$(grep -aoE "epoch $e \|[^|]*\| 100% 250/250 \[[^]]*loss [0-9.]+\]" <<< "$text" | tail -1 |
               sed -E 's/.*loss ([0-9.]+)\]/\1/')
    table_loss=$(grep -aoE "(^|\])$e      [0-9]+\.[0-9]{6} " <<< "$text" | tail -1 | awk '{print $2}')
    [ -n "$bar_loss" ] && [ -n "$table_loss" ] || fail "$label: epoch $e: no 100% bar or no table line: $(cat -v "$f")"
    "$PY" -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 5.1e-5)" \
      "$bar_loss" "$table_loss" || fail "$label: epoch $e: bar loss $bar_loss, table train_loss $table_loss"
  done
  if [ "$strict" = 1 ]; then
    # The erase sequence comes right before each table line.
    for e in 0 1; do
      tr -d '\n' < "$f" | grep -qaE $'\r\033\\[K\r?'"$e"' +[0-9]' ||
        fail "$label: the bar is not erased before table line $e: $(cat -v "$f")"
    done
  fi
}
script -qec "$(printf '%q ' "$CFPS" train "${C[@]}")" /dev/null >"$WORK/tty" </dev/null
bar_check "$WORK/tty" "auto on a terminal" 1
script -qec "$(printf '%q ' $MPIRUN -np 3 "$CFPS" train "${C[@]}" --ps 1 --progress bar)" /dev/null \
  >"$WORK/tty_mpi" </dev/null
bar_check "$WORK/tty_mpi" "mpirun --progress bar" 0
pass "bar: auto on a terminal and --progress bar through mpirun; its last loss is train_loss"
