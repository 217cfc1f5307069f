#!/usr/bin/env bash
# The export is readable by numpy.load with fastbook's layout, the vocab files map rows to raw ids,
# --metrics-out has one JSON line per epoch with the documented keys, and --config works.
. "$(dirname "$0")/lib.bash"
"$PY" -c 'import numpy' 2>/dev/null || { echo "skipped: $PY has no numpy"; exit 0; }
"$CFPS" gen --users 120 --items 80 --ratings 5000 --seed 1 --out "$WORK/r.data" 2>/dev/null
awk 'NR % 5 != 0' "$WORK/r.data" > "$WORK/train.data"
awk 'NR % 5 == 0' "$WORK/r.data" > "$WORK/valid.data"
printf '9999\t1\t3\t0\n' >> "$WORK/valid.data"   # a user unknown in training
cat > "$WORK/train.ini" <<INI
data = $WORK/train.data
valid-data = $WORK/valid.data
factors = 6
epochs = 3
INI
"$CFPS" train --config "$WORK/train.ini" --metrics-out "$WORK/m.jsonl" --export "$WORK/model" > "$WORK/out.txt"
"$PY" - "$WORK" <<'PYEOF'
import json, sys, numpy as np
w = sys.argv[1]
uf = np.load(f"{w}/model/user_factors.npy"); ub = np.load(f"{w}/model/user_bias.npy")
itf = np.load(f"{w}/model/item_factors.npy"); ib = np.load(f"{w}/model/item_bias.npy")
users = [l.rstrip("\n").split("\t") for l in open(f"{w}/model/users.tsv")]
items = [l.rstrip("\n").split("\t") for l in open(f"{w}/model/items.tsv")]
assert uf.dtype == np.float32 and uf.shape == (len(users), 6), uf.shape
assert ub.shape == (len(users),) and itf.shape == (len(items), 6) and ib.shape == (len(items),)
assert [int(r) for r, _ in users] == list(range(len(users)))
assert sorted(int(u) for _, u in users) == [int(u) for _, u in users], "vocab is in id order"
assert np.isfinite(uf).all() and np.isfinite(ib).all()
lines = [json.loads(l) for l in open(f"{w}/m.jsonl")]
assert len(lines) == 3, lines
keys = {"epoch", "step", "train_loss", "valid_mse", "valid_rmse", "seconds", "ratings_per_s",
        "bytes_pulled", "bytes_pushed"}
for i, m in enumerate(lines):
    assert keys <= set(m), m
    assert m["epoch"] == i and abs(m["valid_rmse"] ** 2 - m["valid_mse"]) < 1e-6
# The exported model reproduces the reported validation MSE (unknown ids: a zero row).
uidx = {u: int(r) for r, u in users}; iidx = {i: int(r) for r, i in items}
sse = 0.0; n = 0; unknown = 0
for line in open(f"{w}/valid.data"):
    u, i, r = line.split("\t")[:3]
    pu = np.append(uf[uidx[u]], ub[uidx[u]]) if u in uidx else np.zeros(7, np.float32)
    qi = np.append(itf[iidx[i]], ib[iidx[i]]) if i in iidx else np.zeros(7, np.float32)
    unknown += (u not in uidx) or (i not in iidx)
    x = float(np.dot(pu[:6].astype(np.float64), qi[:6]) + (pu[6] + qi[6]))
    pred = 5.5 / (1 + np.exp(-x))
    sse += (pred - float(r)) ** 2; n += 1
assert unknown >= 1 and lines[-1]["valid_unknown"] == unknown, (unknown, lines[-1])
assert abs(sse / n - lines[-1]["valid_mse"]) < 1e-5, (sse / n, lines[-1]["valid_mse"])
print("numpy export ok:", uf.shape, itf.shape, "final valid_mse", lines[-1]["valid_mse"])
PYEOF
grep -q "^epoch " "$WORK/out.txt" || fail "no epoch table"
pass "export + metrics + config"
