#!/usr/bin/env bash
# Every row of the bad-input table in README.md ("Bad input"), read from README.md itself so the
# table and this test cannot drift: each row names a case id, the exit status and a substring of
# stderr. For each row, case_<id> below builds the input in a fresh directory and sets CMD; the
# command runs there (bounded by a timeout) with --export and --metrics-out added, then:
#   - the exit status is the table's;
#   - stderr contains the table's substring (unless the cell is "-");
#   - a failure prints exactly one error line, "cfps train: error: ..." or, under mpirun,
#     "cfps train[rank R role]: error: ...", and no crash (signal, abort, internal error);
#   - a failure leaves no file behind: the directory holds exactly what the case made;
#   - a success trained: the export and the metrics exist; check_<id>, if defined, checks more.
# A row without a case function, or a case function without a row, fails the test.
. "$(dirname "$0")/lib.bash"
README="$SRC/README.md"
CFPS=$(cd "$(dirname "$CFPS")" && pwd)/$(basename "$CFPS")  # the cases run in their own directory
SRC=$(cd "$SRC" && pwd)

# --- inputs -------------------------------------------------------------------------------------
good() { printf '1\t10\t4\t0\n2\t20\t3\t0\n3\t10\t5\t0\n1\t20\t2\t0\n2\t10\t1\t0\n' > "$1"; }
# A checkpoint of good.data in ck/ (1 epoch, 1 step); prints its shard file.
checkpoint() {
  good good.data
  "$CFPS" train --data good.data --epochs 1 --factors 4 --checkpoint-dir ck </dev/null >/dev/null 2>&1 ||
    fail "could not make the checkpoint"
  echo "ck/$(cat ck/LATEST)/shard-00000-of-00001.bin"
}
T=(--epochs 1 --factors 4)  # small and quick

# --- one function per row ---------------------------------------------------------------------
case_latin1() { printf 'userId,movieId,rating\n\xe9t\xe9,10,4\n2,20,3\n2,10,5\n' > l1.csv; CMD=("$CFPS" train --data l1.csv "${T[@]}"); }
check_latin1() { grep -q $'\t\xe9t\xe9$' out_model/users.tsv || fail "latin1: id bytes not kept"; }
case_utf16() { good g; iconv -f UTF-8 -t UTF-16 g > u16.data; CMD=("$CFPS" train --data u16.data "${T[@]}"); }
case_utf16_nobom() { good g; iconv -f UTF-8 -t UTF-16LE g > u16.data; CMD=("$CFPS" train --data u16.data "${T[@]}"); }
case_crlf() { good g; sed 's/$/\r/' g > crlf.data; CMD=("$CFPS" train --data crlf.data "${T[@]}"); }
case_cr_only() { good g; tr '\n' '\r' < g > mac.data; CMD=("$CFPS" train --data mac.data "${T[@]}"); }
case_bom() { printf '\xef\xbb\xbfuserId,movieId,rating\n1,10,4\n2,20,3\n2,10,5\n' > bom.csv; CMD=("$CFPS" train --data bom.csv "${T[@]}"); }
check_bom() { grep -q $'^0\t1$' out_model/users.tsv || fail "bom: first user id not '1'"; }
case_quoted() { printf 'userId,movieId,rating\n"1","10","4"\n"a,b",20,3\n"say ""hi""",10,5\n' > q.csv; CMD=("$CFPS" train --data q.csv "${T[@]}"); }
check_quoted() { grep -q $'\ta,b$' out_model/users.tsv && grep -q $'\tsay "hi"$' out_model/users.tsv || fail "quoted: ids not unquoted"; }
case_tab_in_id() { printf 'userId,movieId,rating\n1,10,4\n"a\tb",20,3\n' > tab.csv; CMD=("$CFPS" train --data tab.csv "${T[@]}"); }
case_huge_id() { printf '99999999999999999999999\t10\t4\n2\t20\t3\n2\t10\t5\n' > huge.data; CMD=("$CFPS" train --data huge.data "${T[@]}"); }
check_huge_id() { grep -q $'\t99999999999999999999999$' out_model/users.tsv || fail "huge id lost"; }
case_id_beyond_int32() { printf '4294967296\t10\t4\n2\t20\t3\n2\t10\t5\n' > big.data; CMD=("$CFPS" train --data big.data "${T[@]}"); }
check_id_beyond_int32() { [ "$(cat out_model/users.tsv)" = $'0\t2\n1\t4294967296' ] || fail "int32 id: $(cat out_model/users.tsv)"; }
case_negative_id() { printf -- '-5\t-20\t4\n3\t10\t3\n3\t-20\t5\n' > neg.data; CMD=("$CFPS" train --data neg.data "${T[@]}"); }
check_negative_id() { [ "$(cut -f2 out_model/users.tsv | tr '\n' ' ')" = "-5 3 " ] || fail "negative ids: $(cat out_model/users.tsv)"; }
case_duplicate() { printf '1\t10\t4\n1\t10\t2\n2\t20\t3\n2\t10\t5\n' > dup.data; CMD=("$CFPS" train --data dup.data --valid-pct 0 "${T[@]}"); }
check_duplicate() { grep -q '^cfps: 4 training ratings' "$WORK/stdout" || fail "duplicate: $(head -1 "$WORK/stdout")"; }
case_nan() { printf '1\t10\t4\n2\t20\tnan\n' > nan.data; CMD=("$CFPS" train --data nan.data "${T[@]}"); }
case_inf() { printf '1\t10\t4\n2\t20\t-inf\n' > inf.data; CMD=("$CFPS" train --data inf.data "${T[@]}"); }
case_overflow() { printf '1\t10\t4\n2\t20\t1e999\n' > ovf.data; CMD=("$CFPS" train --data ovf.data "${T[@]}"); }
case_rating_word() { printf '1\t10\t4\n2\t20\tnine\n' > word.data; CMD=("$CFPS" train --data word.data "${T[@]}"); }
case_out_of_range() { printf '1\t10\t4\n2\t20\t7\n1\t20\t2\n' > range.data; CMD=("$CFPS" train --data range.data "${T[@]}"); }
case_out_of_range_skip() { printf '1\t10\t4\n2\t20\t7\n1\t20\t2\n2\t10\t3\n' > range.data; CMD=("$CFPS" train --data range.data --skip-bad-lines "${T[@]}"); }
check_out_of_range_skip() { grep -q '^cfps: skipped 1 bad lines' "$WORK/stdout" || fail "skip count: $(cat "$WORK/stdout")"; }
case_y_range_narrow() { good g; CMD=("$CFPS" train --data g --y-range 1 4 "${T[@]}"); }
case_empty_lines() { printf '\n1\t10\t4\n\n   \n2\t20\t3\n\t\n2\t10\t5\n\n' > e.data; CMD=("$CFPS" train --data e.data "${T[@]}"); }
check_empty_lines() { grep -q '^cfps: 3 training ratings' "$WORK/stdout" || fail "empty lines: $(head -1 "$WORK/stdout")"; }
case_no_validation() { good g; CMD=("$CFPS" train --data g --valid-pct 0 "${T[@]}"); }
case_zero_bytes() { : > zero.data; CMD=("$CFPS" train --data zero.data "${T[@]}"); }
case_header_only() { printf 'userId,movieId,rating\n' > h.csv; CMD=("$CFPS" train --data h.csv "${T[@]}"); }
case_directory() { mkdir adir; CMD=("$CFPS" train --data adir "${T[@]}"); }
case_missing() { CMD=("$CFPS" train --data missing.data "${T[@]}"); }
case_missing_valid() { good g; CMD=("$CFPS" train --data g --valid-data missing.test "${T[@]}"); }
case_missing_column() { printf '1\t10\t4\n2\t20\n' > short.data; CMD=("$CFPS" train --data short.data "${T[@]}"); }
case_csv_no_rating() { printf 'userId,movieId,timestamp\n1,10,3\n' > nr.csv; CMD=("$CFPS" train --data nr.csv "${T[@]}"); }
case_csv_no_header() { printf '1,10,4\n2,20,3\n' > nh.csv; CMD=("$CFPS" train --data nh.csv "${T[@]}"); }
case_semicolon() { printf 'userId;movieId;rating\n1;10;4\n2;20;3\n2;10;5\n' > semi.csv; CMD=("$CFPS" train --data semi.csv "${T[@]}"); }
case_dat_one_colon() { printf '1:10:4\n' > one.dat; CMD=("$CFPS" train --data one.dat "${T[@]}"); }
case_binary() { head -c 4096 "$CFPS" > garbage.bin; CMD=("$CFPS" train --data garbage.bin "${T[@]}"); }
case_gzip() { good g; gzip -c g > r.data.gz; CMD=("$CFPS" train --data r.data.gz "${T[@]}"); }
case_zip() { good u.data; "$PY" -c 'import zipfile; z = zipfile.ZipFile("ml.zip", "w"); z.write("u.data"); z.close()'; rm u.data; CMD=("$CFPS" train --data ml.zip "${T[@]}"); }
case_ckpt_version() {
  local shard; shard=$(checkpoint)
  printf '\x02' | dd of="$shard" bs=1 seek=8 conv=notrunc 2>/dev/null  # the format version field
  CMD=("$CFPS" train --data good.data "${T[@]}" --resume ck)
}
case_ckpt_truncated() { local shard; shard=$(checkpoint); truncate -s 100 "$shard"; CMD=("$CFPS" train --data good.data "${T[@]}" --resume ck); }
case_ckpt_flipped() {
  local shard; shard=$(checkpoint)
  printf '\xff' | dd of="$shard" bs=1 seek=130 conv=notrunc 2>/dev/null
  CMD=("$CFPS" train --data good.data "${T[@]}" --resume ck)
}
case_ckpt_none() { mkdir ck; CMD=("$CFPS" train --data g "${T[@]}" --resume ck); good g; }
case_ckpt_other_k() { checkpoint >/dev/null; CMD=("$CFPS" train --data good.data --epochs 1 --factors 8 --resume ck); }
case_ckpt_other_order() { checkpoint >/dev/null; CMD=("$CFPS" train --data good.data "${T[@]}" --order blocked --blocks 2 --resume ck); }
case_order_unknown() { good g; CMD=("$CFPS" train --data g "${T[@]}" --order sorted); }
case_blocks_without_order() { good g; CMD=("$CFPS" train --data g "${T[@]}" --blocks 8); }
case_ckpt_other_data() { checkpoint >/dev/null; printf '1\t10\t4\n' > other.data; CMD=("$CFPS" train --data other.data "${T[@]}" --resume ck); }
case_factors_0() { good g; CMD=("$CFPS" train --data g --epochs 1 --factors 0); }
case_factors_word() { good g; CMD=("$CFPS" train --data g --epochs 1 --factors ten); }
case_batch_size_0() { good g; CMD=("$CFPS" train --data g "${T[@]}" --batch-size 0); }
case_epochs_0() { good g; CMD=("$CFPS" train --data g --epochs 0); }
case_lr_negative() { good g; CMD=("$CFPS" train --data g "${T[@]}" --lr -1); }
case_y_range_reversed() { good g; CMD=("$CFPS" train --data g "${T[@]}" --y-range 5 1); }
case_y_range_one() { good g; CMD=("$CFPS" train --data g "${T[@]}" --y-range 5); }
case_valid_pct() { good g; CMD=("$CFPS" train --data g "${T[@]}" --valid-pct 1.5); }
case_valid_both() { good g; CMD=("$CFPS" train --data g "${T[@]}" --valid-data g --valid-pct 0.1); }
case_format() { good g; CMD=("$CFPS" train --data g "${T[@]}" --format bogus); }
case_optimizer() { good g; CMD=("$CFPS" train --data g "${T[@]}" --optimizer lbfgs); }
case_progress() { good g; CMD=("$CFPS" train --data g "${T[@]}" --progress fancy); }
case_unknown_option() { good g; CMD=("$CFPS" train --data g "${T[@]}" --bogus); }
case_stray_word() { good g; CMD=("$CFPS" train g --data g "${T[@]}"); }
case_no_data() { CMD=("$CFPS" train "${T[@]}"); }
case_twice() { good g; CMD=("$CFPS" train --data g --data g "${T[@]}"); }
case_config_unknown_key() { good g; printf 'data = g\nfactorz = 3\n' > bad.ini; CMD=("$CFPS" train --config bad.ini "${T[@]}"); }
case_config_missing() { CMD=("$CFPS" train --config missing.ini "${T[@]}"); }
case_timeout_negative() { good g; CMD=("$CFPS" train --data g "${T[@]}" --timeout -1); }
case_checkpoint_every_no_dir() { good g; CMD=("$CFPS" train --data g "${T[@]}" --checkpoint-every 5); }
case_ps_too_many() { good g; CMD=($MPIRUN -np 2 "$CFPS" train --data g "${T[@]}" --ps 2); }
case_ps_negative() { good g; CMD=("$CFPS" train --data g "${T[@]}" --ps -1); }
case_bad_line_mpirun() { printf '1\t10\t4\n2\t20\n' > short.data; CMD=($MPIRUN -np 3 "$CFPS" train --data short.data "${T[@]}" --ps 1); }
case_missing_mpirun() { CMD=($MPIRUN -np 3 "$CFPS" train --data missing.data "${T[@]}" --ps 0); }
# The writer is bounded and holds none of the test's descriptors, so it can never hold up the run.
case_pipe() { good g; mkfifo p; (timeout 60 cat g > p) < /dev/null > /dev/null 2>&1 & CMD=("$CFPS" train --data p "${T[@]}"); }
case_pipe_mpirun() { mkfifo p; CMD=($MPIRUN -np 2 "$CFPS" train --data p "${T[@]}" --ps 1); }
case_unknown_command() { CMD=("$CFPS" trian --data g); }

# --- the table ---------------------------------------------------------------------------------
rows=$(sed -n '/<!-- bad-input-table:begin -->/,/<!-- bad-input-table:end -->/p' "$README" |
       grep '^| `' || true)
[ -n "$rows" ] || fail "no bad-input table between the markers in $README"
strip() { local v=$1; v=${v#"${v%%[![:space:]]*}"}; v=${v%"${v##*[![:space:]]}"}; v=${v#\`}; v=${v%\`}; printf '%s' "$v"; }

declare -A seen=()
n=0
while IFS= read -r row; do
  IFS='|' read -r _ c_id _ _ c_exit c_needle _ <<< "$row"
  id=$(strip "$c_id"); want=$(strip "$c_exit"); needle=$(strip "$c_needle")
  fn="case_${id//-/_}"
  declare -F "$fn" >/dev/null || fail "README row '$id' has no $fn in $0"
  [ -z "${seen[$id]:-}" ] || fail "README row '$id' appears twice"
  seen[$id]=1
  [[ "$want" =~ ^[0-9]+$ ]] || fail "row '$id': exit '$want' is not a number"
  dir="$WORK/case-$id"
  mkdir "$dir"
  cd "$dir"
  CMD=()
  "$fn"
  before=$(find . | sort)
  set +e
  timeout -k 5 120 "${CMD[@]}" --export out_model --metrics-out out_m.jsonl \
    </dev/null >"$WORK/stdout" 2>"$WORK/stderr"  # mpirun would eat the table on stdin
  rc=$?
  set -e
  err=$(cat "$WORK/stderr")
  [ "$rc" = "$want" ] || fail "$id: exit $rc, README says $want: ${CMD[*]}: $err"
  if [ "$needle" != "-" ]; then
    grep -qF -- "$needle" "$WORK/stderr" || fail "$id: stderr lacks '$needle': $err"
  fi
  grep -qE 'Segmentation fault|core dumped|terminate called|internal error|signal 6|signal 11|Aborted' \
    "$WORK/stderr" && fail "$id: crash: $err"
  if [ "$rc" != 0 ]; then
    [ "$(grep -c ': error: ' "$WORK/stderr")" = 1 ] || fail "$id: not exactly one error line: $err"
    grep -qE '^cfps( train(\[rank [0-9]+( [a-z+]+)?\])?)?: error: ' "$WORK/stderr" ||
      fail "$id: error line not prefixed as README says: $err"
    [ "$(find . | sort)" = "$before" ] || fail "$id: left files behind: $(diff <(echo "$before") <(find . | sort))"
  else
    [ -s out_model/user_factors.npy ] && [ -s out_m.jsonl ] || fail "$id: exit 0 but no export/metrics"
    if declare -F "check_${id//-/_}" >/dev/null; then "check_${id//-/_}"; fi
  fi
  cd "$WORK"
  n=$((n + 1))
  echo "ok: $id: exit $rc${needle:+, '$needle'}"
done <<< "$rows"

# Every case function has its row.
for fn in $(declare -F | awk '{print $3}' | grep '^case_'); do
  id=${fn#case_}; id=${id//_/-}
  [ -n "${seen[$id]:-}" ] || fail "$fn has no row in the README table"
done
[ "$n" -ge 24 ] || fail "only $n rows in the bad-input table"
echo "$n rows of the README bad-input table behave as the table says"
