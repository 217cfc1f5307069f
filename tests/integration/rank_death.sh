#!/usr/bin/env bash
# A rank that dies (kill -9) ends the whole job within seconds, with a message naming the rank,
# instead of leaving the others waiting forever.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 2000 --items 1500 --ratings 300000 --seed 2 --out "$WORK/r.data" 2>/dev/null
for victim in 2 0; do  # a worker, then the server
  timeout -k 5 120 mpirun -np 3 "$CFPS" train --ps 1 --data "$WORK/r.data" --epochs 200 \
    >"$WORK/out" 2>"$WORK/err" &
  job=$!
  # Wait until training is under way (the epoch table header is printed).
  for _ in $(seq 1 200); do grep -q '^epoch' "$WORK/out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^epoch' "$WORK/out" || fail "training did not start: $(cat "$WORK/err")"
  pid=""
  for p in $(pgrep -f "$CFPS train --ps 1 --data $WORK/r.data"); do
    r=$(rank_of "$p")
    [ "$r" = "$victim" ] && pid=$p
  done
  [ -n "$pid" ] || fail "rank $victim not found"
  start=$(date +%s)
  kill -9 "$pid"
  set +e
  wait "$job"
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  [ "$rc" != 0 ] || fail "job exited 0 after rank $victim was killed"
  [ "$rc" != 124 ] || fail "job hung after rank $victim was killed"
  [ "$took" -le 30 ] || fail "job took ${took}s to end after rank $victim died"
  grep -qE "rank $victim .*(signal 9|Killed)" "$WORK/err" || fail "no message naming rank $victim: $(cat "$WORK/err")"
  pass "rank $victim killed: job ended in ${took}s with rc=$rc: $(grep -E "rank $victim" "$WORK/err" | head -1)"
done
