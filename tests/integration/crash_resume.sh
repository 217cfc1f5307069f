#!/usr/bin/env bash
# Crash safety: SIGKILL a random rank at 10 random moments (checkpoints are written every 25
# steps and made slow, so many kills land inside a write), resume each time, and check that every
# resume starts from the newest complete checkpoint, never a partial one, and that the final
# model equals the uninterrupted run's.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 300 --items 200 --ratings 20000 --seed 9 --out "$WORK/r.data" 2>/dev/null
C=(--data "$WORK/r.data" --factors 8 --epochs 40 --batch-size 128 --ps 1)
sums() { (cd "$1" && sha256sum user_factors.npy user_bias.npy item_factors.npy item_bias.npy); }
$MPIRUN -np 3 "$CFPS" train "${C[@]}" --export "$WORK/straight" >/dev/null

export CFPS_FAULT_DELAY_CHECKPOINT_MS=30
RANDOM=${CFPS_TEST_SEED:-$$}
echo "random seed: $RANDOM (set CFPS_TEST_SEED to repeat)"
ck="$WORK/ck"
newest_complete() {
  local best=""
  for d in "$ck"/step-*; do
    if [ -f "$d/MANIFEST" ]; then best=$(basename "$d"); fi
  done
  echo "$best"
}
kills=0 during_write=0
for attempt in $(seq 1 40); do
  [ "$kills" = 10 ] && break
  resume=()
  expect=$(newest_complete)
  [ -n "$expect" ] && resume=(--resume "$ck")
  $MPIRUN -np 3 "$CFPS" train "${C[@]}" --checkpoint-dir "$ck" --checkpoint-every 25 --keep 2 \
    "${resume[@]}" > "$WORK/out" 2> "$WORK/err" &
  job=$!
  if [ -n "$expect" ]; then
    for _ in $(seq 1 300); do grep -q "resumed from" "$WORK/out" && break; sleep 0.05; done
    grep -q "resumed from $ck at step $((10#${expect#step-})) " "$WORK/out" ||
      fail "did not resume from the newest complete checkpoint $expect: $(cat "$WORK/out" "$WORK/err")"
  fi
  victim=$((RANDOM % 3))
  pid=""
  # Find the victim once its rank is running (MPI start-up is slow on a loaded machine), then
  # let the job run for a random 0.1-0.9 s before the kill.
  for _ in $(seq 1 300); do
    for p in $(pgrep -f "$CFPS train --data $WORK/r.data"); do
      r=$(rank_of "$p")
      [ "$r" = "$victim" ] && pid=$p
    done
    [ -n "$pid" ] && break
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$pid" ]; then wait "$job" || true; continue; fi  # finished before the kill
  sleep "0.$((RANDOM % 9 + 1))"
  partial=0
  for d in "$ck"/step-*; do
    if [ -d "$d" ] && [ ! -f "$d/MANIFEST" ]; then partial=1; fi
  done
  kill -9 "$pid" 2>/dev/null || true
  set +e; wait "$job"; rc=$?; set -e
  [ "$rc" != 0 ] || continue  # it had finished
  kills=$((kills + 1))
  [ "$partial" -gt 0 ] && during_write=$((during_write + 1))
  latest=$(newest_complete)
  if [ -n "$latest" ]; then
    "$CFPS" inspect "$ck" > /dev/null || fail "newest complete checkpoint $latest does not verify"
  fi
  echo "kill $kills: rank $victim, newest complete checkpoint ${latest:-none}$([ "$partial" -gt 0 ] && echo ', during a write')"
done
[ "$kills" = 10 ] || fail "only $kills kills landed"
# (Under ASan on a loaded machine every kill may land before the first checkpoint: then the last
# run starts afresh, as a user would.)
resume=()
[ -n "$(newest_complete)" ] && resume=(--resume "$ck")
$MPIRUN -np 3 "$CFPS" train "${C[@]}" --checkpoint-dir "$ck" --checkpoint-every 25 --keep 2 \
  "${resume[@]}" --export "$WORK/final" > "$WORK/out"
[ "$(sums "$WORK/final")" = "$(sums "$WORK/straight")" ] || fail "final model differs from the uninterrupted run"
pass "10 kills ($during_write during a checkpoint write), final model identical to the uninterrupted run"
