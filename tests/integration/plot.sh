#!/usr/bin/env bash
# cfps plot: gen -> train --metrics-out -> plot gives a well-formed SVG with two lines (train_loss,
# valid_mse) and an escaped title; bad input gives one error line and exit 1 (2 for usage), and
# leaves no SVG behind.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 200 --items 150 --ratings 8000 --seed 3 --out "$WORK/r.data" 2>/dev/null
$MPIRUN -np 3 "$CFPS" train --ps 1 --data "$WORK/r.data" --factors 8 --epochs 4 \
  --metrics-out "$WORK/m.jsonl" >/dev/null
[ "$(wc -l < "$WORK/m.jsonl")" = 4 ] || fail "expected 4 metrics lines"

"$CFPS" plot --metrics "$WORK/m.jsonl" --out "$WORK/loss.svg" --title 'ml <test> & "co"' \
  2>"$WORK/stderr" || fail "plot failed: $(cat "$WORK/stderr")"
grep -q 'wrote 4 epochs' "$WORK/stderr" || fail "no summary line: $(cat "$WORK/stderr")"
lines=$(grep -cE '<(polyline|path)[ >]' "$WORK/loss.svg" || true)
[ "$lines" = 2 ] || fail "expected 2 <polyline>/<path> elements, got $lines"
"$PY" - "$WORK/loss.svg" <<'PYEOF' || fail "the SVG is not well-formed XML or lacks a part"
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
svg = doc.documentElement
assert svg.tagName == "svg", svg.tagName
w, h = (float(v) for v in svg.getAttribute("viewBox").split()[2:])
lines = svg.getElementsByTagName("polyline")
assert len(lines) == 2
for line in lines:
    pts = [tuple(map(float, p.split(","))) for p in line.getAttribute("points").split()]
    assert len(pts) == 4, pts
    assert all(0 <= x <= w and 0 <= y <= h for x, y in pts), pts
texts = [t.firstChild.data for t in svg.getElementsByTagName("text") if t.firstChild]
for want in ('ml <test> & "co"', "train_loss", "valid_mse", "epoch"):
    assert want in texts, (want, texts)
PYEOF
pass "plot: 2 lines, well-formed, title escaped"

# No validation ratings: the table shows "-", the metrics file null, and the plot has the train line.
"$CFPS" train --data "$WORK/r.data" --factors 8 --epochs 2 --valid-pct 0 \
  --metrics-out "$WORK/nv.jsonl" > "$WORK/nv.out" 2>/dev/null || fail "train --valid-pct 0 failed"
grep -qE '^1 +[0-9.]+ +- +- ' "$WORK/nv.out" || fail "no '-' valid columns: $(cat "$WORK/nv.out")"
grep -q '"valid_mse": null, "valid_rmse": null' "$WORK/nv.jsonl" || fail "no null: $(cat "$WORK/nv.jsonl")"
"$PY" -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$WORK/nv.jsonl" \
  || fail "nv.jsonl is not JSON"
"$CFPS" plot --metrics "$WORK/nv.jsonl" --out "$WORK/nv.svg" 2>/dev/null || fail "plot of nulls"
lines=$(grep -cE '<(polyline|path)[ >]' "$WORK/nv.svg" || true)
[ "$lines" = 1 ] || fail "expected the train line alone, got $lines lines"
pass "no validation: '-' in the table, null in the metrics, the train line plotted"

# A hand-written log: blank lines, NaN from a diverged run, extra keys, spaces.
printf '{"epoch": 0, "train_loss": 1.5, "valid_mse": 1.2}\n\n{ "epoch":1,"train_loss":NaN,"valid_mse":1.1, "note": "x" }\n' \
  > "$WORK/hand.jsonl"
"$CFPS" plot --metrics "$WORK/hand.jsonl" --out "$WORK/hand.svg" 2>/dev/null || fail "tolerant parse"
"$PY" -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$WORK/hand.svg" \
  || fail "hand.svg is not well-formed"
pass "plot: tolerant of blank lines, NaN and string values"

# expect EXIT NEEDLE -- command...: one error line, the exit status, no SVG left behind.
expect() {
  local want=$1 needle=$2; shift 3
  rm -f "$WORK/bad.svg"
  set +e
  timeout -k 5 60 "$@" >"$WORK/stdout" 2>"$WORK/stderr"
  local rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "exit $rc (want $want): $*: $(cat "$WORK/stderr")"
  grep -qF -- "$needle" "$WORK/stderr" || fail "stderr lacks '$needle': $(cat "$WORK/stderr")"
  [ "$(grep -c 'cfps plot: error' "$WORK/stderr")" = 1 ] || fail "not one error line: $*"
  [ "$(wc -l < "$WORK/stderr")" = 1 ] || fail "more than one line on stderr: $*"
  [ ! -e "$WORK/bad.svg" ] || fail "SVG left behind by: $*"
  echo "ok: $needle"
}
printf '{"epoch": 0, "train_loss": 1}\n{"epoch": 1, "train_loss": }\n' > "$WORK/malformed.jsonl"
printf '{"train_loss": 1}\n' > "$WORK/noepoch.jsonl"
printf '\n\n' > "$WORK/blank.jsonl"
: > "$WORK/empty.jsonl"
expect 1 "$WORK/missing.jsonl" -- "$CFPS" plot --metrics "$WORK/missing.jsonl" --out "$WORK/bad.svg"
expect 1 "malformed.jsonl:2: malformed JSON line" -- \
  "$CFPS" plot --metrics "$WORK/malformed.jsonl" --out "$WORK/bad.svg"
expect 1 "noepoch.jsonl:1" -- "$CFPS" plot --metrics "$WORK/noepoch.jsonl" --out "$WORK/bad.svg"
expect 1 "holds no epochs" -- "$CFPS" plot --metrics "$WORK/empty.jsonl" --out "$WORK/bad.svg"
expect 1 "holds no epochs" -- "$CFPS" plot --metrics "$WORK/blank.jsonl" --out "$WORK/bad.svg"
expect 1 "is a directory" -- "$CFPS" plot --metrics "$WORK" --out "$WORK/bad.svg"
expect 1 "$WORK/nodir/" -- "$CFPS" plot --metrics "$WORK/m.jsonl" --out "$WORK/nodir/x.svg"
expect 2 "--out is required" -- "$CFPS" plot --metrics "$WORK/m.jsonl"
expect 2 "--metrics is required" -- "$CFPS" plot --out "$WORK/bad.svg"
expect 2 "unknown option '--bogus'" -- "$CFPS" plot --bogus --metrics "$WORK/m.jsonl" --out "$WORK/bad.svg"
expect 2 "needs a value" -- "$CFPS" plot --metrics "$WORK/m.jsonl" --out
expect 2 "%value%" -- "$CFPS" plot --metrics "$WORK/m.jsonl" --out "$WORK/bad.svg" --%value%
"$CFPS" plot --help | grep -q 'usage: cfps plot' || fail "--help"
pass "plot: bad input"
