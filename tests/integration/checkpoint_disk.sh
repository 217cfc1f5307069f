#!/usr/bin/env bash
# A disk that fills, or a directory that is not writable, during a checkpoint: the previous
# checkpoint stays intact, LATEST does not move, the error says so, the exit status is non-zero,
# and nothing half-written is left under a final name. Needs root to mount a small tmpfs.
. "$(dirname "$0")/lib.bash"
mnt="$WORK/small"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=100k tmpfs "$mnt" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root)"
  exit 0
fi
trap 'umount "$mnt" 2>/dev/null; rm -rf "$WORK"' EXIT
"$CFPS" gen --users 300 --items 200 --ratings 20000 --seed 5 --out "$WORK/r.data" 2>/dev/null
C=(--data "$WORK/r.data" --factors 8 --epochs 3 --batch-size 128)
# Each checkpoint is about 58 KB: the first fits in 100 KB, the second cannot.
set +e
"$CFPS" train "${C[@]}" --checkpoint-dir "$mnt/ck" --checkpoint-epochs 1 > "$WORK/out" 2> "$WORK/err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "a full disk went unnoticed"
grep -q "checkpoint of step 250 not written (.*No space left on device.*); LATEST is unchanged: step-000000125" "$WORK/err" ||
  fail "error does not say so: $(cat "$WORK/err")"
[ "$(cat "$mnt/ck/LATEST")" = "step-000000125" ] || fail "LATEST moved"
"$CFPS" inspect "$mnt/ck/step-000000125" > /dev/null || fail "the previous checkpoint was damaged"
[ ! -e "$mnt/ck/step-000000250/MANIFEST" ] || fail "a MANIFEST was written for the failed step"
leftover=$(find "$mnt/ck" -name '*.tmp.*' | wc -l)
[ "$leftover" = 0 ] || fail "temporary files left: $(find "$mnt/ck" -name '*.tmp.*')"
pass "full disk: $(cat "$WORK/err")"
# Not writable: a read-only file system from the start.
mount -o remount,ro "$mnt"
set +e
"$CFPS" train "${C[@]}" --checkpoint-dir "$mnt/ck2" > "$WORK/out" 2> "$WORK/err"
rc=$?
set -e
[ "$rc" != 0 ] && grep -q -- "--checkpoint-dir: cannot create .*Read-only file system" "$WORK/err" || fail "read-only: $(cat "$WORK/err")"
grep -q "^0 " "$WORK/out" && fail "trained before finding the directory unwritable"
pass "read-only: $(cat "$WORK/err")"
