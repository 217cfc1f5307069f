#!/usr/bin/env bash
# cfps recommend on a model that cfps train --export wrote: each mode (top-N for a user with and
# without the rated items, similar items by id and by title, bias ranking) with u.item (latin-1)
# and movies.csv titles, checked against numpy when it is there; then every error: one line on
# stderr, nothing on stdout, exit 2 for usage and 1 for bad input.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 60 --items 40 --ratings 1500 --seed 3 --out "$WORK/r.data" 2>/dev/null
"$CFPS" train --data "$WORK/r.data" --factors 4 --epochs 3 --export "$WORK/model" \
  > "$WORK/train.txt" 2>&1 || { cat "$WORK/train.txt"; fail "train"; }
M="$WORK/model"
U=$(sed -n 1p "$M/users.tsv" | cut -f2)  # a user and two items the model knows
A=$(sed -n 1p "$M/items.tsv" | cut -f2)
B=$(sed -n 2p "$M/items.tsv" | cut -f2)

# Titles for items 1..40 as ml-100k's u.item (latin-1: 0xe9 is e-acute) and as movies.csv.
for i in $(seq 1 40); do
  case $i in
    7) printf '7|Mis\xe9rables, Les (1995)|01-Jan-1995||http://x|0|1\n' ;;
    8 | 9) printf '%s|Twin Peaks (1992)|01-Jan-1992||http://x|0|1\n' "$i" ;;
    *) printf '%s|Movie Number %s (19%s)|01-Jan-1990||http://x|0|1\n' "$i" "$i" "$((50 + i))" ;;
  esac
done > "$WORK/u.item"
{
  echo "movieId,title,genres"
  for i in $(seq 1 40); do printf '%s,"Film, Number %s (""%s"")",Drama\n' "$i" "$i" "$i"; done
} > "$WORK/movies.csv"

rec() { "$CFPS" recommend --model "$M" "$@"; }
rows() { tail -n +3 "$1" | awk 'NF' | wc -l; }  # table rows after the heading and the header

# --- top-N for a user ---------------------------------------------------------------------------
rec --user "$U" --top 5 > "$WORK/top.txt"
grep -q "^top 5 items for user $U by predicted rating (y-range 0 5.5)$" "$WORK/top.txt" ||
  fail "top heading: $(head -1 "$WORK/top.txt")"
sed -n 2p "$WORK/top.txt" | grep -q "^rank  item  predicted$" || fail "top header"
[ "$(rows "$WORK/top.txt")" = 5 ] || fail "top: not 5 rows"
awk 'NR > 2 && NR <= 7 { if ($1 != NR - 2 || $3 <= 0 || $3 >= 5.5) exit 1 }' "$WORK/top.txt" ||
  fail "top rows: $(cat "$WORK/top.txt")"
# Predictions are sorted, best first.
awk 'NR > 2 { print $3 }' "$WORK/top.txt" | sort -g -r -c || fail "top not in order"

# With --data, nothing the user rated comes back: ask for every item.
rec --user "$U" --top 1000 --data "$WORK/r.data" --items "$WORK/u.item" > "$WORK/unrated.txt"
awk -F'\t' -v u="$U" '$1 == u { print $2 }' "$WORK/r.data" | sort -u > "$WORK/rated_ids"
n_items=$(wc -l < "$M/items.tsv")
n_rated=$(cut -f2 "$M/items.tsv" | sort -u | comm -12 - "$WORK/rated_ids" | wc -l)
grep -q "; $n_rated items rated in $WORK/r.data excluded)$" "$WORK/unrated.txt" ||
  fail "exclusion heading: $(head -1 "$WORK/unrated.txt")"
[ "$(rows "$WORK/unrated.txt")" = $((n_items - n_rated)) ] || fail "unrated: wrong count"
awk 'NR > 2 { print $2 }' "$WORK/unrated.txt" | sort -u | comm -12 - "$WORK/rated_ids" |
  grep -q . && fail "a rated item was recommended"
sed -n 2p "$WORK/unrated.txt" | grep -q "^rank  item  title *predicted$" || fail "title column"
pass "top-N for a user, rated items excluded ($n_rated of $n_items)"

# --- similar items, bias ranking; titles in both formats ----------------------------------------
rec --similar-to "$A" --top 4 > "$WORK/sim.txt"
grep -q "^4 items most similar to $A (cosine similarity of item factors)$" "$WORK/sim.txt" ||
  fail "similar heading: $(head -1 "$WORK/sim.txt")"
[ "$(rows "$WORK/sim.txt")" = 4 ] || fail "similar: not 4 rows"
awk -v a="$A" 'NR > 2 { if ($2 == a) exit 1 }' "$WORK/sim.txt" || fail "the item is similar to itself"
# A title given in UTF-8, read from a latin-1 file, printed in UTF-8.
if grep -qx 7 <(cut -f2 "$M/items.tsv"); then
  rec --similar-to "misérables" --items "$WORK/u.item" --top 3 > "$WORK/sim7.txt"
  grep -q "^3 items most similar to 7 'Misérables, Les (1995)' " "$WORK/sim7.txt" ||
    fail "similar by title: $(head -1 "$WORK/sim7.txt")"
fi
rec --similar-to "Film, Number $B (\"$B\")" --items "$WORK/movies.csv" --top 2 > "$WORK/sim12.txt"
grep -q "^2 items most similar to $B 'Film, Number $B (\"$B\")' " "$WORK/sim12.txt" ||
  fail "similar by a quoted csv title: $(head -1 "$WORK/sim12.txt")"
rec --biases --items "$WORK/movies.csv" > "$WORK/bias.txt"
grep -q "^5 lowest item biases" "$WORK/bias.txt" && grep -q "^5 highest item biases" "$WORK/bias.txt" ||
  fail "bias headings"
[ "$(grep -c '^[1-5]  ' "$WORK/bias.txt")" = 10 ] || fail "bias: not 5 + 5 rows"
grep -q 'Film, Number' "$WORK/bias.txt" || fail "bias: no titles"
pass "similar items (id, latin-1 title, quoted csv title), bias ranking"

# --- the same numbers with numpy ----------------------------------------------------------------
if "$PY" -c 'import numpy' 2>/dev/null; then
  rec --user "$U" --top 3 --y-range 1 5 > "$WORK/top2.txt"
  rec --similar-to "$B" --top 3 > "$WORK/sim5.txt"
  rec --biases --top 2 > "$WORK/bias2.txt"
  "$PY" - "$WORK" "$U" "$B" <<'PYEOF'
import sys, numpy as np
w, user, item = sys.argv[1:4]; m = f"{w}/model"
uf = np.load(f"{m}/user_factors.npy").astype(np.float64); ub = np.load(f"{m}/user_bias.npy")
itf = np.load(f"{m}/item_factors.npy").astype(np.float64); ib = np.load(f"{m}/item_bias.npy")
users = [l.rstrip("\n").split("\t")[1] for l in open(f"{m}/users.tsv")]
items = [l.rstrip("\n").split("\t")[1] for l in open(f"{m}/items.tsv")]
def table(path):
    rows = [l.split() for l in open(path).read().splitlines()]
    return [r for r in rows if len(r) == 3 and r[0].isdigit()]  # rank item score
u = users.index(user)
pred = 1 + 4 / (1 + np.exp(-(itf @ uf[u] + ub[u] + ib)))
want = np.argsort(-pred, kind="stable")[:3]
got = table(f"{w}/top2.txt")
assert [r[1] for r in got] == [items[i] for i in want], (got, want)
assert all(abs(float(r[2]) - pred[i]) < 1e-3 for r, i in zip(got, want)), (got, pred[want])
q = items.index(item)
cos = itf @ itf[q] / (np.linalg.norm(itf, axis=1) * np.linalg.norm(itf[q]))
cos[q] = -np.inf
want = np.argsort(-cos, kind="stable")[:3]
got = table(f"{w}/sim5.txt")
assert [r[1] for r in got] == [items[i] for i in want], (got, want)
assert all(abs(float(r[2]) - cos[i]) < 1e-4 for r, i in zip(got, want)), (got, cos[want])
got = table(f"{w}/bias2.txt")
order = np.argsort(ib, kind="stable")
assert [r[1] for r in got] == [items[i] for i in order[:2]] + [items[i] for i in order[::-1][:2]], got
print("numpy agrees: top-N, cosine, biases")
PYEOF
  pass "matches numpy"
else
  echo "skipped numpy comparison: $PY has no numpy"
fi

# --- errors: one line, nothing on stdout, exit 2 (usage) or 1 (input) ---------------------------
expect_error() {
  local want=$1 text=$2
  shift 2
  set +e
  "$CFPS" recommend "$@" > "$WORK/out" 2> "$WORK/err"
  local rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "recommend $*: exit $rc, want $want: $(cat "$WORK/err")"
  [ "$(wc -l < "$WORK/err")" = 1 ] || fail "recommend $*: not one line: $(cat "$WORK/err")"
  grep -q "^cfps recommend: error: " "$WORK/err" || fail "recommend $*: $(cat "$WORK/err")"
  grep -qF -- "$text" "$WORK/err" || fail "recommend $*: '$(cat "$WORK/err")' lacks '$text'"
  [ ! -s "$WORK/out" ] || fail "recommend $*: wrote to stdout"
}
expect_error 2 "give one of --user ID, --similar-to ITEM or --biases" --model "$M"
expect_error 2 "--model is required" --user 1
expect_error 2 "exclude each other" --model "$M" --user 1 --biases
expect_error 2 "exclude each other" --model "$M" --similar-to "$A" --user "$U"
expect_error 2 "--top must be > 0, got 0" --model "$M" --biases --top 0
expect_error 2 "--top" --model "$M" --biases --top many
expect_error 2 "--y-range needs finite LO < HI" --model "$M" --user 1 --y-range 5 1
expect_error 2 "--y-range takes two numbers" --model "$M" --user 1 --y-range 5
expect_error 2 "--data applies to --user only" --model "$M" --biases --data "$WORK/r.data"
expect_error 2 "--format must be" --model "$M" --user 1 --data "$WORK/r.data" --format xml
expect_error 2 "unrecognised option '--bogus'" --model "$M" --biases --bogus
expect_error 2 "unexpected argument 'extra'" --model "$M" --biases extra
expect_error 1 "cannot open model directory '$WORK/nope'" --model "$WORK/nope" --biases
cp -r "$M" "$WORK/m_nofile" && rm "$WORK/m_nofile/items.tsv"
expect_error 1 "model directory '$WORK/m_nofile' has no items.tsv" --model "$WORK/m_nofile" --biases
cp -r "$M" "$WORK/m_shape" && cp "$M/user_bias.npy" "$WORK/m_shape/item_bias.npy"
expect_error 1 "'$WORK/m_shape/item_bias.npy' has $(wc -l < "$M/users.tsv") rows but" \
  --model "$WORK/m_shape" --biases
cp -r "$M" "$WORK/m_tsv" && head -n 5 "$M/items.tsv" > "$WORK/m_tsv/items.tsv"
expect_error 1 "'$WORK/m_tsv/items.tsv' has 5 rows but" --model "$WORK/m_tsv" --similar-to "$A"
expect_error 1 "unknown user id '9999': not in $M/users.tsv" --model "$M" --user 9999
expect_error 1 "unknown item id '999': not in $M/items.tsv" --model "$M" --similar-to 999
expect_error 1 "no title in $WORK/u.item contains it" \
  --model "$M" --similar-to "No Such Film" --items "$WORK/u.item"
if grep -qx 8 <(cut -f2 "$M/items.tsv") && grep -qx 9 <(cut -f2 "$M/items.tsv"); then
  expect_error 1 "2 items have it: 8 'Twin Peaks (1992)', 9 'Twin Peaks (1992)'" \
    --model "$M" --similar-to "Twin Peaks (1992)" --items "$WORK/u.item"
fi
expect_error 1 "titles contain it" --model "$M" --similar-to "movie number 1" --items "$WORK/u.item"
printf '1|A|\n2|B|\nthree\n' > "$WORK/bad.item"
expect_error 1 "$WORK/bad.item:3: expected 'id|title|...', got 'three'" \
  --model "$M" --biases --items "$WORK/bad.item"
printf 'movieId,title\n1,"unterminated\n' > "$WORK/bad.csv"
expect_error 1 "$WORK/bad.csv:2: unterminated quoted field" --model "$M" --biases --items "$WORK/bad.csv"
expect_error 1 "/nonexistent.item" --model "$M" --biases --items /nonexistent.item
printf '1\t2\t3\nbroken\n' > "$WORK/bad.data"
expect_error 1 "$WORK/bad.data:2" --model "$M" --user "$U" --data "$WORK/bad.data"
"$CFPS" recommend --help > "$WORK/help.txt" || fail "--help exit status"
grep -q "usage: cfps recommend --model DIR --user ID" "$WORK/help.txt" || fail "--help text"
pass "errors: one line, exit 2 for usage and 1 for input"
