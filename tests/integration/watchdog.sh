#!/usr/bin/env bash
# No silent hang: with one worker stopped (SIGSTOP) in a 1 server + 2 worker run, the job ends
# non-zero within --timeout (plus a margin), with a line naming the rank that did not arrive and
# what it was last heard doing.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 300 --items 200 --ratings 20000 --seed 5 --out "$WORK/r.data" 2>/dev/null
mpirun -np 3 "$CFPS" train --data "$WORK/r.data" --factors 8 --batch-size 128 --epochs 100000 \
  --ps 1 --timeout 4 --metrics-out "$WORK/m.jsonl" > "$WORK/out" 2> "$WORK/err" &
job=$!
for _ in $(seq 1 600); do [ -s "$WORK/m.jsonl" ] && break; sleep 0.1; done
[ -s "$WORK/m.jsonl" ] || { kill -9 $job; fail "training did not start"; }
victim=""
for p in $(pgrep -f "$CFPS train --data $WORK/r.data"); do
  r=$(rank_of "$p")
  [ "$r" = 2 ] && victim=$p
done
[ -n "$victim" ] || { kill -9 $job; fail "rank 2 not found"; }
start=$(date +%s)
kill -STOP "$victim"
for _ in $(seq 1 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
if kill -0 $job 2>/dev/null; then
  kill -CONT "$victim"; kill -9 $job; fail "the job still hangs 30 s after a rank stopped"
fi
set +e; wait $job; rc=$?; set -e
took=$(( $(date +%s) - start ))
kill -9 "$victim" 2>/dev/null || true
[ "$rc" != 0 ] || fail "exit status 0"
# Rank 0 or 1 names rank 2 among the ranks it waited for: the worker waits for its message, or
# the server's rows to it were not taken (the worker then waits for the server and rank 2).
grep -qE "^cfps train\[rank [01] (server|worker)\]: error: waited [0-9]+ s \(--timeout 4\) in .*(no message from|not yet taken by).* rank 2 \(worker\), last heard at step [0-9]+.*raise --timeout" "$WORK/err" ||
  fail "no message naming rank 2: $(cat "$WORK/err")"
pass "stopped rank 2: job ended in ${took}s, rc=$rc: $(grep -m1 'cfps train\[rank' "$WORK/err")"
