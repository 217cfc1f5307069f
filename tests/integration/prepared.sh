#!/usr/bin/env bash
# The prepared binary ratings file (cfps prepare, cfps gen --out X.cfpsr): training on it gives the
# very model and metrics of training on the text file (one process and under mpirun, random split
# and --valid-data); gen's binary equals prepare of gen's text; every kind of damage is one clear
# error line and exit 1, with no output left behind.
. "$(dirname "$0")/lib.bash"
cd "$WORK"

"$CFPS" gen --users 120 --items 80 --ratings 6000 --seed 7 --out r.data 2>/dev/null
"$CFPS" gen --users 120 --items 80 --ratings 6000 --seed 7 --out g.cfpsr 2>/dev/null
"$CFPS" prepare --data r.data --out r.cfpsr 2> prep.err
grep -q "6000 ratings (120 users, 80 items)" prep.err || fail "prepare summary: $(cat prep.err)"
cmp -s r.cfpsr g.cfpsr || fail "gen --out X.cfpsr differs from cfps prepare of gen's text"
pass "gen's binary equals prepare of its text"

same_model() {  # DIR_A DIR_B WHAT
  for f in user_factors user_bias item_factors item_bias; do
    cmp -s "$1/$f.npy" "$2/$f.npy" || fail "$3: $f.npy differs"
  done
  cmp -s "$1/users.tsv" "$2/users.tsv" && cmp -s "$1/items.tsv" "$2/items.tsv" ||
    fail "$3: vocabularies differ"
}
common=(--factors 8 --epochs 2 --batch-size 64 --seed 3)
"$CFPS" train --data r.data "${common[@]}" --export text --metrics-out text.jsonl > /dev/null
"$CFPS" train --data r.cfpsr "${common[@]}" --export bin --metrics-out bin.jsonl > /dev/null
same_model text bin "one process"
cmp -s text.jsonl bin.jsonl || {
  # Only the timings may differ.
  sed -E 's/"(seconds|ratings_per_s)": *[0-9.e+-]+//g' text.jsonl > a; sed -E 's/"(seconds|ratings_per_s)": *[0-9.e+-]+//g' bin.jsonl > b
  cmp -s a b || fail "metrics differ: $(diff a b | head -3)"
}
pass "one process: the same model and metrics from the text and the prepared file"

$MPIRUN -np 3 "$CFPS" train --data r.data --ps 1 "${common[@]}" --export mpi_text > /dev/null
$MPIRUN -np 3 "$CFPS" train --data r.cfpsr --ps 1 "${common[@]}" --export mpi_bin > /dev/null
same_model mpi_text mpi_bin "1 server + 2 workers"
pass "1 server + 2 workers: the same model from the text and the prepared file"

head -n 5000 r.data > base.data
tail -n 1000 r.data > test.data
"$CFPS" prepare --data base.data --out base.cfpsr 2> /dev/null
"$CFPS" prepare --data test.data --out test.cfpsr 2> /dev/null
"$CFPS" train --data base.data --valid-data test.data "${common[@]}" --export v_text > v_text.out
"$CFPS" train --data base.cfpsr --valid-data test.cfpsr "${common[@]}" --export v_bin > v_bin.out
same_model v_text v_bin "--valid-data"
pass "--valid-data: the same model from text and prepared files"

# Damage. patch FILE WHERE HEX writes bytes at an offset; WHERE is a number or array:user|item|rating
# (the first element of that array, its offset read from the header).
patch() {
  "$PY" -c '
import struct, sys
path, where, hexbytes = sys.argv[1], sys.argv[2], sys.argv[3]
data = bytearray(open(path, "rb").read())
n, = struct.unpack_from("<Q", data, 16)
names_bytes, = struct.unpack_from("<Q", data, 40)
arrays = (64 + names_bytes + 63) // 64 * 64
off = {"array:user": arrays, "array:item": arrays + 4 * n, "array:rating": arrays + 8 * n}.get(where)
off = int(where) if off is None else off
b = bytes.fromhex(hexbytes)
data[off:off + len(b)] = b
open(path, "wb").write(bytes(data))
' "$@"
}
expect_error() {  # FILE NEEDLE [extra options]
  local file=$1 needle=$2; shift 2
  rm -rf out out.jsonl
  set +e
  "$CFPS" train --data "$file" "${common[@]}" --export out --metrics-out out.jsonl "$@" \
    > stdout 2> stderr
  local rc=$?
  set -e
  [ "$rc" = 1 ] || fail "$file: exit $rc, want 1: $(cat stderr)"
  grep -qF -- "$needle" stderr || fail "$file: stderr lacks '$needle': $(cat stderr)"
  [ "$(wc -l < stderr)" = 1 ] || fail "$file: not one line: $(cat stderr)"
  [ ! -e out ] && [ ! -e out.jsonl ] || fail "$file: output left behind"
  pass "$file: $(cat stderr)"
}
size=$(stat -c %s r.cfpsr)
head -c $((size - 100)) r.cfpsr > truncated.cfpsr
expect_error truncated.cfpsr "truncated prepared ratings file"
head -c 40 r.cfpsr > stub.cfpsr
expect_error stub.cfpsr "shorter than its 64-byte header"
cp r.cfpsr version.cfpsr; patch version.cfpsr 8 63000000
expect_error version.cfpsr "prepared by another version of cfps (format 99"
cp r.cfpsr header.cfpsr; patch header.cfpsr 17 ff
expect_error header.cfpsr "damaged header (checksum mismatch)"
cp r.cfpsr names.cfpsr; patch names.cfpsr 70 7a
expect_error names.cfpsr "damaged names (checksum mismatch)"
cp r.cfpsr id.cfpsr; patch id.cfpsr array:user 40420f00
expect_error id.cfpsr "damaged prepared file: rating 0 names user 1000000"
cp r.cfpsr nan.cfpsr; patch nan.cfpsr array:rating 0000c07f
expect_error nan.cfpsr "rating 0 is nan, outside --y-range"
expect_error r.cfpsr "outside --y-range [1, 4]" --y-range 1 4
"$CFPS" train --data r.cfpsr "${common[@]}" --y-range 1 4 --skip-bad-lines > skip.out
grep -q "skipped" skip.out || fail "--skip-bad-lines on a prepared file: no count: $(cat skip.out)"
pass "--skip-bad-lines drops a prepared file's out-of-range ratings: $(grep skipped skip.out)"
