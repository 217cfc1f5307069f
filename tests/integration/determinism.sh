#!/usr/bin/env bash
# Determinism: the exported model is bitwise identical for S = 1, 2, 3 server ranks with the same
# workers and seed, and for the all-serve mode (--ps 0) with the same number of workers.
# Also: one process equals 1 server + 1 worker.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 300 --items 200 --ratings 20000 --seed 5 --out "$WORK/r.data" 2>/dev/null
common=(--data "$WORK/r.data" --factors 8 --epochs 2 --batch-size 128)
sums() { (cd "$1" && sha256sum user_factors.npy user_bias.npy item_factors.npy item_bias.npy users.tsv items.tsv); }

$MPIRUN -np 3 "$CFPS" train "${common[@]}" --ps 1 --export "$WORK/s1" >/dev/null
$MPIRUN -np 4 "$CFPS" train "${common[@]}" --ps 2 --export "$WORK/s2" >/dev/null
$MPIRUN -np 5 "$CFPS" train "${common[@]}" --ps 3 --export "$WORK/s3" >/dev/null
$MPIRUN -np 2 "$CFPS" train "${common[@]}" --ps 0 --export "$WORK/s0" >/dev/null
ref=$(sums "$WORK/s1")
for d in s2 s3 s0; do
  [ "$(sums "$WORK/$d")" = "$ref" ] || fail "$d differs from S=1 with 2 workers"
done
pass "S=1,2,3 and --ps 0 (2 workers each) give identical exports"
echo "$ref"

"$CFPS" train "${common[@]}" --export "$WORK/single" >/dev/null
$MPIRUN -np 2 "$CFPS" train "${common[@]}" --ps 1 --export "$WORK/one_one" >/dev/null
[ "$(sums "$WORK/single")" = "$(sums "$WORK/one_one")" ] || fail "single process != 1 server + 1 worker"
pass "single process == 1 server + 1 worker"
# A different seed changes the model (the check above is not vacuous).
"$CFPS" train "${common[@]}" --seed 4 --export "$WORK/other" >/dev/null
[ "$(sums "$WORK/single")" != "$(sums "$WORK/other")" ] || fail "seed has no effect"
pass "another seed gives another model"

# --order blocked (4 x 4 tiles): the same model for S = 1 and 2 servers, and in one process
# against 1 server + 1 worker; and a model other than the random order's.
$MPIRUN -np 3 "$CFPS" train "${common[@]}" --order blocked --blocks 4 --ps 1 \
  --export "$WORK/b1" >/dev/null
$MPIRUN -np 4 "$CFPS" train "${common[@]}" --order blocked --blocks 4 --ps 2 \
  --export "$WORK/b2" >/dev/null
[ "$(sums "$WORK/b1")" = "$(sums "$WORK/b2")" ] || fail "--order blocked: S=2 differs from S=1"
"$CFPS" train "${common[@]}" --order blocked --blocks 4 --export "$WORK/b_single" >/dev/null
$MPIRUN -np 2 "$CFPS" train "${common[@]}" --order blocked --blocks 4 --ps 1 \
  --export "$WORK/b_one_one" >/dev/null
[ "$(sums "$WORK/b_single")" = "$(sums "$WORK/b_one_one")" ] ||
  fail "--order blocked: single process != 1 server + 1 worker"
[ "$(sums "$WORK/b_single")" != "$(sums "$WORK/single")" ] || fail "--order blocked has no effect"
pass "--order blocked: S=1 == S=2, single process == 1 server + 1 worker, != the random order"
