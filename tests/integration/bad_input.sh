#!/usr/bin/env bash
# Bad input: one clear line on stderr naming the file/line/option, a non-zero exit, no hang, no
# crash, and no output files (--metrics-out / --export) left behind.
. "$(dirname "$0")/lib.bash"
D=$WORK
printf '1\t10\t4\t0\n2\t20\t3\t0\n3\t10\t5\t0\n1\t20\t2\t0\n' > $D/good.data
printf '1\t10\t4\t0\n2\t20\n3\t10\t5\t0\n' > $D/short.data
printf '1\t10\t4\t0\n2\t20\tnine\t0\n' > $D/word.data
printf '1\t10\t4\t0\n2\t20\t7\t0\n1\t20\t2\t0\n' > $D/range.data
printf '1\t10\t4\t0\n2\t20\tnan\t0\n' > $D/nan.data
: > $D/empty.data
mkdir -p $D/adir
printf 'userId,movieId,timestamp\n1,2,3\n' > $D/nocol.csv

n=0
# expect EXIT NEEDLE -- command...
expect() {
  local want=$1 needle=$2; shift 3
  rm -rf "$D/out_m.jsonl" "$D/out_model"
  set +e
  timeout -k 5 120 "$@" --metrics-out "$D/out_m.jsonl" --export "$D/out_model" >"$D/stdout" 2>"$D/stderr"
  local rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "exit $rc (want $want): $*: $(cat "$D/stderr")"
  [ -z "$needle" ] || grep -qF -- "$needle" "$D/stderr" || fail "stderr lacks '$needle': $*: $(cat "$D/stderr")"
  if [ "$rc" != 0 ]; then
    [ ! -e "$D/out_m.jsonl" ] && [ ! -e "$D/out_model" ] || fail "output left behind by: $*"
    # The error itself is one line (mpirun may add its own banner after it).
    [ "$(grep -c 'cfps train: error' "$D/stderr")" = 1 ] || fail "not exactly one error line: $*"
    grep -qE 'Segmentation fault|core dumped|terminate called|internal error|signal 6|signal 11' "$D/stderr" && fail "crash: $*"
  fi
  n=$((n + 1))
  echo "ok: $needle"
}
expect 1 "$D/missing.data" -- "$CFPS" train --data $D/missing.data
expect 1 "$D/empty.data" -- "$CFPS" train --data $D/empty.data
expect 1 "Is a directory" -- "$CFPS" train --data $D/adir
expect 1 "short.data:2" -- "$CFPS" train --data $D/short.data
expect 1 "word.data:2" -- "$CFPS" train --data $D/word.data
expect 1 "range.data:2" -- "$CFPS" train --data $D/range.data
expect 1 "nan.data:2" -- "$CFPS" train --data $D/nan.data
expect 1 "rating" -- "$CFPS" train --data $D/nocol.csv
expect 2 "--factors" -- "$CFPS" train --data $D/good.data --factors 0
expect 2 "--factors" -- "$CFPS" train --data $D/good.data --factors -2
expect 2 "--bogus" -- "$CFPS" train --data $D/good.data --bogus
expect 2 "--y-range" -- "$CFPS" train --data $D/good.data --y-range 5 1
expect 2 "--optimizer" -- "$CFPS" train --data $D/good.data --optimizer lbfgs
expect 2 "--data" -- "$CFPS" train
expect 2 "--ps" -- $MPIRUN -np 2 "$CFPS" train --data $D/good.data --ps 2
expect 2 "--ps" -- $MPIRUN -np 3 "$CFPS" train --data $D/good.data --ps 5
expect 1 "short.data:2" -- $MPIRUN -np 3 "$CFPS" train --data $D/short.data --ps 1
# With --skip-bad-lines the bad lines are counted and training goes on.
expect 0 "" -- "$CFPS" train --data $D/range.data --skip-bad-lines --valid-pct 0 --epochs 1
grep -q "skipped 1 bad lines" "$D/stdout" || fail "skip count not reported: $(cat "$D/stdout")"
[ -e "$D/out_model/user_factors.npy" ] || fail "no export after a good run"
echo "$n bad-input cases behave"
