#!/usr/bin/env bash
# --threads: 0 picks the CPUs a rank may run on (its affinity mask, shared with the ranks of its
# node that may run there too); an explicit count above them is allowed but said, once, in one
# warning line that names the rank and its CPUs (the threads would take turns on a core).
. "$(dirname "$0")/lib.bash"
cd "$WORK"
"$CFPS" gen --users 80 --items 50 --ratings 2000 --out r.data 2> /dev/null
common=(--data r.data --factors 4 --epochs 1 --progress none)

taskset -c 0 "$CFPS" train "${common[@]}" --threads 2 > one.out 2> one.err
grep -qx "cfps train: warning: --threads 2 but rank 0 may run on 1 CPU (its affinity mask: mpirun binds each rank of a job of 2 ranks or fewer to one core unless --bind-to none), so its threads take turns" one.err ||
  fail "no warning for 2 threads on 1 CPU: $(cat one.err)"
[ "$(wc -l < one.err)" = 1 ] || fail "more than the warning on stderr: $(cat one.err)"
grep -q "2 threads per rank" one.out || fail "start-up line: $(cat one.out)"
pass "$(cat one.err)"

taskset -c 0 "$CFPS" train "${common[@]}" --threads 1 > two.out 2> two.err
[ ! -s two.err ] || fail "a warning for 1 thread on 1 CPU: $(cat two.err)"
taskset -c 0 "$CFPS" train "${common[@]}" > auto.out 2> auto.err
[ ! -s auto.err ] || fail "a warning for --threads 0: $(cat auto.err)"
grep -q "1 thread per rank" auto.out || fail "--threads 0 on 1 CPU: $(grep threads auto.out)"
pass "no warning for --threads 1 or 0 on 1 CPU ($(grep -o '[0-9]* threads\? per rank' auto.out))"

# Under mpirun, bound to a core each: the warning names the rank with the fewest CPUs (when the
# machine has a core for each rank; else neither rank is bound to fewer CPUs than the other).
cpus=$($MPIRUN -np 2 --bind-to core bash -c nproc | sort -n | head -1)
$MPIRUN -np 2 --bind-to core "$CFPS" train "${common[@]}" --ps 1 --threads 2 > mpi.out 2> mpi.err
if [ "$cpus" -lt 2 ]; then
  grep -qE "^cfps train\[rank 0 server\]: warning: --threads 2 but rank 0 may run on 1 CPU " mpi.err ||
    fail "no warning under mpirun --bind-to core: $(cat mpi.err)"
  [ "$(grep -c warning mpi.err)" = 1 ] || fail "not one warning: $(cat mpi.err)"
  pass "mpirun: $(cat mpi.err)"
else
  [ ! -s mpi.err ] || fail "a warning with $cpus CPUs per rank: $(cat mpi.err)"
  pass "mpirun: ranks bound to $cpus CPUs each, no warning"
fi
