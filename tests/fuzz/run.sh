#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cc) into ${FUZZ_BUILD:-build-fuzz} if needed and
# runs each of them for N seconds (default 60), one after the other:
#
#   bash tests/fuzz/run.sh [seconds] [extra libFuzzer flags...]
#   FUZZ_TARGETS="fuzz_npy fuzz_config" bash tests/fuzz/run.sh 600
#
# Each target starts from its seed corpus (tests/fuzz/corpus/<target>, read only) and keeps what it
# learns in $FUZZ_BUILD/corpus/<target>; a crash, leak, timeout or sanitizer report is saved as
# $FUZZ_BUILD/artifacts/<target>-crash-<sha1> (reproduce: $FUZZ_BUILD/tests/fuzz/<target> FILE).
# Prints one line per target (executions, rate, coverage) and exits 1 if any target failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
shift || true
BUILD=${FUZZ_BUILD:-build-fuzz}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$BUILD" -DCFPS_FUZZ=ON -DCFPS_SANITIZE=ON \
    -DCFPS_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target fuzz >/dev/null

# Temporary files of the targets (fuzz_checkpoint_shard's step directory) stay in the build tree.
mkdir -p "$BUILD/tmp"
TMPDIR=$(cd "$BUILD/tmp" && pwd)
export TMPDIR

targets=${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.cc | sed 's/\.cc$//')}
mkdir -p "$BUILD/artifacts" "$BUILD/logs"
failed=""
for t in $targets; do
  mkdir -p "$BUILD/corpus/$t"
  dict=tests/fuzz/dict/$t.dict
  case $t in fuzz_ratings_*) dict=tests/fuzz/dict/ratings.dict ;; esac
  dict_flag=()
  [ -f "$dict" ] && dict_flag=(-dict="$dict")
  log=$BUILD/logs/$t.log
  rc=0
  "$BUILD/tests/fuzz/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" "${dict_flag[@]}" "$@" \
    "$BUILD/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$rc" = 0 ]; then
    printf '%-18s ok    %12s runs  %8s exec/s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "$cov"
  else
    printf '%-18s FAIL  rc=%s, see %s\n' "$t" "$rc" "$log"
    grep -E 'ERROR|SUMMARY|runtime error|invariant|Test unit written' "$log" | head -8 | sed 's/^/    /'
    failed="$failed $t"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz: failures in:$failed" >&2
  exit 1
fi
