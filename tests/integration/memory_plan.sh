#!/usr/bin/env bash
# The memory plan: printed before training, reported next to every rank's peak RSS, and a plan
# that cannot fit in the node's available memory is refused before anything is allocated or
# written (unless --ignore-memory-plan).
. "$(dirname "$0")/lib.bash"
cd "$WORK"
"$CFPS" gen --users 100 --items 60 --ratings 3000 --out r.data 2>/dev/null

"$CFPS" train --data r.data --factors 8 --epochs 1 > one.out
grep -qE "^cfps: memory plan of rank 0 \(server\+worker\): shard rows .* = [0-9.]+ [KM]B, process baseline" one.out ||
  fail "no plan line: $(cat one.out)"
grep -qE "peak RSS [0-9]+ MB \(plan [0-9]+ MB \+ process baseline [0-9]+ MB\)" one.out ||
  fail "no plan next to the peak RSS: $(cat one.out)"
pass "$(grep 'memory plan' one.out)"

$MPIRUN -np 3 "$CFPS" train --data r.data --ps 1 --factors 8 --epochs 1 > three.out
[ "$(grep -cE 'peak RSS [0-9]+ MB \(plan' three.out)" = 3 ] || fail "per-rank plans: $(cat three.out)"
pass "every rank's plan next to its peak RSS under mpirun"

# Factors enough for the shard's rows alone (160 rows of k+1 floats) to need twice the memory
# this machine has available: whatever the machine, the plan cannot fit.
avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
k=$(( avail_kb * 1024 / (160 * 4) * 2 ))
if [ "$k" -gt 268435456 ]; then  # the largest --factors: a machine this big can hold the plan
  pass "refusal not checked: ${avail_kb} kB available is more than the largest plan needs"
  exit 0
fi
set +e
"$CFPS" train --data r.data --factors "$k" --export m --metrics-out m.jsonl > big.out 2> big.err
rc=$?
set -e
[ "$rc" = 1 ] || fail "exit $rc for a plan that cannot fit: $(cat big.err)"
grep -q "the memory plan needs .* MB more on this node .* MB are available: .*--ignore-memory-plan" big.err ||
  fail "message: $(cat big.err)"
[ "$(wc -l < big.err)" = 1 ] || fail "not one line: $(cat big.err)"
[ ! -e m ] && [ ! -e m.jsonl ] || fail "output left behind"
pass "$(cat big.err)"
