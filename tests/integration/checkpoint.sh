#!/usr/bin/env bash
# Checkpoints: a run stopped and resumed equals the uninterrupted run bitwise, onto any number of
# servers (N -> M, cluster <-> single process); SIGTERM saves and stops; a damaged, partial or
# foreign checkpoint is refused with one line naming the file, and nothing is trained.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 300 --items 200 --ratings 20000 --seed 5 --out "$WORK/r.data" 2>/dev/null
B=(--data "$WORK/r.data" --batch-size 128)
C=("${B[@]}" --factors 8 --epochs 5)
sums() { (cd "$1" && sha256sum user_factors.npy user_bias.npy item_factors.npy item_bias.npy); }

# 1. Equivalence. 2 workers throughout (the batches are cut per worker).
$MPIRUN -np 3 "$CFPS" train "${C[@]}" --ps 1 --export "$WORK/straight" >/dev/null
$MPIRUN -np 4 "$CFPS" train "${C[@]}" --ps 2 --checkpoint-dir "$WORK/ck" --checkpoint-epochs 2 \
  --keep 5 >/dev/null
[ -f "$WORK/ck/step-000000250/MANIFEST" ] || fail "no checkpoint after epoch 2"
# 2 epochs + resume for 3, with N=2 -> M=3 servers.
$MPIRUN -np 5 "$CFPS" train "${C[@]}" --ps 3 --resume "$WORK/ck/step-000000250" \
  --export "$WORK/r23" >/dev/null
[ "$(sums "$WORK/r23")" = "$(sums "$WORK/straight")" ] || fail "resume 2 -> 3 servers differs"
pass "5 epochs straight == 2 epochs + resume (2 -> 3 servers) for 3"
# all-serve mode (--ps 0, 2 ranks = 2 workers) from the same checkpoint.
$MPIRUN -np 2 "$CFPS" train "${C[@]}" --ps 0 --resume "$WORK/ck/step-000000250" \
  --export "$WORK/r20" >/dev/null
[ "$(sums "$WORK/r20")" = "$(sums "$WORK/straight")" ] || fail "resume into --ps 0 differs"
pass "resume into the all-serve mode is identical"
# cluster -> single process (1 worker from here on: compare with a 1-worker run resumed likewise).
"$CFPS" train "${C[@]}" --checkpoint-dir "$WORK/ck1" --checkpoint-every 300 >/dev/null
"$CFPS" train "${C[@]}" --export "$WORK/straight1" >/dev/null
$MPIRUN -np 3 "$CFPS" train "${C[@]}" --ps 2 --resume "$WORK/ck1/step-000000300" \
  --export "$WORK/r1c" >/dev/null
[ "$(sums "$WORK/r1c")" = "$(sums "$WORK/straight1")" ] || fail "single -> 2 servers + 1 worker differs"
"$CFPS" train "${C[@]}" --resume "$WORK/ck1/step-000000300" --export "$WORK/r1s" >/dev/null
[ "$(sums "$WORK/r1s")" = "$(sums "$WORK/straight1")" ] || fail "mid-epoch resume differs"
pass "single process <-> cluster, mid-epoch (step 300 of 625): identical"

# 2. LATEST names the newest; --keep K keeps K.
"$CFPS" train "${C[@]}" --checkpoint-dir "$WORK/ckk" --checkpoint-every 100 --keep 2 >/dev/null
[ "$(cat "$WORK/ckk/LATEST")" = "step-000000625" ] || fail "LATEST is $(cat "$WORK/ckk/LATEST")"
[ "$(ls -d "$WORK/ckk"/step-* | wc -l)" = 2 ] || fail "--keep 2 kept $(ls "$WORK/ckk")"
pass "LATEST and --keep"

# 3. SIGTERM: finish the step, save, exit 0 (one process), with a line saying where.
"$CFPS" train "${B[@]}" --factors 8 --epochs 4000 --checkpoint-dir "$WORK/cks" \
  --metrics-out "$WORK/sig.jsonl" > "$WORK/sig.out" 2>&1 &
pid=$!
# Rank 0 writes the metrics file itself after each epoch: then training is under way.
for _ in $(seq 1 600); do [ -s "$WORK/sig.jsonl" ] && break; sleep 0.1; done
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc: $(tail -3 "$WORK/sig.out")"
grep -q "stopped by a signal after step .* checkpoint written to $WORK/cks/step-" "$WORK/sig.out" ||
  fail "SIGTERM: no line saying where: $(tail -3 "$WORK/sig.out")"
step_dir=$(cat "$WORK/cks/LATEST")
[ -f "$WORK/cks/$step_dir/MANIFEST" ] || fail "SIGTERM: no complete checkpoint"
pass "SIGTERM saved $step_dir and exited 0"
# Under mpirun: SIGTERM to launch/cfps-mpirun (which passes it on as SIGUSR1, forwarded by mpirun
# without aborting the job): every rank saves and stops, exit status 0.
"$SRC/launch/cfps-mpirun" -np 3 "$CFPS" train "${B[@]}" --factors 8 --epochs 4000 --ps 1 \
  --checkpoint-dir "$WORK/cksm" --metrics-out "$WORK/sigm.jsonl" > "$WORK/sigm.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -s "$WORK/sigm.jsonl" ] && break; sleep 0.1; done
kill -TERM $pid || fail "mpirun run ended early: $(tail -5 "$WORK/sigm.out")"
for _ in $(seq 1 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -9 $pid; fail "mpirun did not stop within 60 s of SIGTERM"; }
set +e; wait $pid; rc=$?; set -e
[ "$rc" = 0 ] || fail "cfps-mpirun SIGTERM: exit $rc: $(cat "$WORK/sigm.out")"
grep -q "stopped by a signal after step" "$WORK/sigm.out" || fail "mpirun SIGTERM: $(cat "$WORK/sigm.out")"
[ -f "$WORK/cksm/$(cat "$WORK/cksm/LATEST")/MANIFEST" ] || fail "mpirun SIGTERM: no checkpoint"
pass "SIGTERM to cfps-mpirun: every rank saved and stopped, exit 0"

# 4. Integrity: each damage gives one error line naming the file; nothing trains, nothing is
# exported.
good="$WORK/ck/step-000000250"
damage() {  # name, command to damage a copy, needle
  local name=$1 how=$2 needle=$3
  rm -rf "$WORK/bad" "$WORK/out_model"
  cp -r "$good" "$WORK/bad"
  (cd "$WORK/bad" && eval "$how")
  set +e
  $MPIRUN -np 3 "$CFPS" train "${C[@]}" --ps 1 --resume "$WORK/bad" --export "$WORK/out_model" \
    >"$WORK/d.out" 2>"$WORK/d.err"
  local rc=$?
  set -e
  [ "$rc" != 0 ] || fail "$name: resumed from a damaged checkpoint"
  # Under mpirun the line names the rank that reports it (rank 0, a server here).
  grep -q "^cfps train\[rank 0 server\]: error: .*$needle" "$WORK/d.err" || fail "$name: $(cat "$WORK/d.err")"
  [ "$(grep -c ': error: ' "$WORK/d.err")" = 1 ] || fail "$name: not one line"
  [ ! -e "$WORK/out_model" ] || fail "$name: exported anyway"
  grep -q '^0 ' "$WORK/d.out" && fail "$name: trained anyway"
  pass "$name: $(grep ': error: ' "$WORK/d.err" | cut -c1-150)"
}
damage "flipped byte" 'printf "\xff" | dd of=shard-00001-of-00002.bin bs=1 seek=5000 conv=notrunc 2>/dev/null' "shard-00001-of-00002.bin.*checksum"
damage "flipped header byte" 'printf "\x07" | dd of=shard-00000-of-00002.bin bs=1 seek=41 conv=notrunc 2>/dev/null' "shard-00000-of-00002.bin.*header checksum"
damage "truncated shard" 'truncate -s -7 shard-00000-of-00002.bin' "shard-00000-of-00002.bin.*truncated"
damage "missing shard" 'rm shard-00001-of-00002.bin' "shard-00001-of-00002.bin"
damage "no MANIFEST" 'rm MANIFEST' "no complete checkpoint"
damage "MANIFEST edited" 'sed -i "s/^factors 8/factors 9/" MANIFEST' "MANIFEST.*checksum mismatch"
damage "MANIFEST of another S" 'cp "$WORK/ck1/step-000000300/MANIFEST" MANIFEST' "shard-00000-of-00001.bin"
# Another run with the same options (another run id), and one with k=9, both with 2 servers.
$MPIRUN -np 4 "$CFPS" train "${B[@]}" --factors 8 --epochs 5 --ps 2 --checkpoint-dir "$WORK/other" \
  --checkpoint-every 250 >/dev/null
$MPIRUN -np 4 "$CFPS" train "${B[@]}" --factors 9 --ps 2 --epochs 5 --checkpoint-dir "$WORK/k9" \
  --checkpoint-every 250 >/dev/null
damage "shard of another run" 'cp "$WORK/other/step-000000250/shard-00001-of-00002.bin" .' "shard-00001-of-00002.bin.*another run"
damage "MANIFEST with another k" 'cp "$WORK/k9/step-000000250/MANIFEST" .' "factors 9, this run has --factors 8"
damage "shard of another step" 'cp "$WORK/ck/step-000000500/shard-00000-of-00002.bin" .' "shard-00000-of-00002.bin.*step 500"
# A different --factors than the checkpoint's.
set +e
"$CFPS" train --data "$WORK/r.data" --factors 9 --epochs 5 --batch-size 128 --resume "$good" \
  2>"$WORK/f.err" >/dev/null
rc=$?
set -e
[ "$rc" != 0 ] && grep -q -- "--factors 8, this run has --factors 9" "$WORK/f.err" || fail "factors: $(cat "$WORK/f.err")"
pass "other --factors refused"
# An empty or foreign directory.
mkdir -p "$WORK/empty"
set +e
"$CFPS" train "${C[@]}" --resume "$WORK/empty" 2>"$WORK/e.err" >"$WORK/e.out"; rc=$?
set -e
[ "$rc" != 0 ] && grep -q "no complete checkpoint in '$WORK/empty'" "$WORK/e.err" || fail "empty: $(cat "$WORK/e.err")"
# The epoch table's header used to be printed before the resume failed.
! grep -q "train_loss" "$WORK/e.out" || fail "a failed resume printed the table header: $(cat "$WORK/e.out")"
pass "empty directory refused, no table header above the error"
# The final checkpoint is reported once (it used to be reported twice: saved, then again).
"$CFPS" train "${B[@]}" --factors 8 --epochs 1 --checkpoint-dir "$WORK/once" > "$WORK/once.out"
[ "$(grep -c "^cfps: checkpoint " "$WORK/once.out")" = 1 ] || fail "final checkpoint lines: $(grep checkpoint "$WORK/once.out")"
# Saved by --checkpoint-every at the last step, lines before the end: named again at the end.
"$CFPS" train "${B[@]}" --factors 8 --epochs 1 --checkpoint-every 125 --checkpoint-dir "$WORK/twice" > "$WORK/twice.out"
[ "$(grep -c "^cfps: checkpoint .*step-000000125" "$WORK/twice.out")" = 2 ] || fail "interval save at the end: $(grep checkpoint "$WORK/twice.out")"
pass "the final checkpoint is reported once, or named again when it was saved lines before"
# Resuming a finished run trains nothing, says so (no empty epoch table) and still exports.
"$CFPS" train "${B[@]}" --factors 8 --epochs 1 --resume "$WORK/twice" --export "$WORK/done" \
  > "$WORK/done.out" || fail "resume of a finished run failed"
grep -q "^cfps: the checkpoint is at the end of training (step 125 of 125): nothing left to train" \
  "$WORK/done.out" || fail "finished resume: $(cat "$WORK/done.out")"
! grep -q "^epoch " "$WORK/done.out" || fail "finished resume printed an epoch table"
[ -f "$WORK/done/user_factors.npy" ] || fail "finished resume did not export"
pass "resuming a finished run trains nothing, says so, exports"

# 5. inspect says whether a checkpoint is sound; export streams it to the NumPy layout.
"$CFPS" inspect "$WORK/ck" > "$WORK/i.out" || fail "inspect of a sound checkpoint failed"
grep -q "all 4 files verified" "$WORK/i.out" || fail "inspect: $(cat "$WORK/i.out")"
grep -q "^step        625" "$WORK/i.out" || fail "inspect does not follow LATEST"
rm -rf "$WORK/bad"; cp -r "$good" "$WORK/bad"
printf '\xff' | dd of="$WORK/bad/shard-00001-of-00002.bin" bs=1 seek=3000 conv=notrunc 2>/dev/null
set +e; "$CFPS" inspect "$WORK/bad" > "$WORK/i.out" 2> "$WORK/i.err"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "shard-00001-of-00002.bin.*DAMAGED" "$WORK/i.out" || fail "inspect missed damage"
pass "inspect: sound (exit 0) and damaged (exit 1)"
"$CFPS" export --checkpoint "$WORK/ck" --out "$WORK/exported" >/dev/null
[ "$(sums "$WORK/exported")" = "$(sums "$WORK/straight")" ] || fail "export from checkpoint differs"
cmp "$WORK/exported/users.tsv" "$WORK/straight/users.tsv" || fail "users.tsv differs"
set +e; "$CFPS" export --checkpoint "$WORK/bad" --out "$WORK/exp_bad" 2>/dev/null; rc=$?; set -e
[ "$rc" = 1 ] && [ ! -e "$WORK/exp_bad" ] || fail "export of a damaged checkpoint wrote output"
pass "export --checkpoint equals train --export; refuses a damaged checkpoint"
