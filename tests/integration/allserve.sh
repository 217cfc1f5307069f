#!/usr/bin/env bash
# All-serve mode (`--ps 0`: every rank serves a shard and trains) against the cluster mode (S server
# ranks + W worker ranks). Parameters do not depend on where a row lives, so with the same number of
# workers W the two modes give bitwise-identical models, per-epoch losses and checkpoints, and a
# checkpoint written by either resumes in the other (and in the single process) with the same bits.
# The batch slices depend on W, so bitwise equality is only claimed between runs whose sequence of
# worker counts is the same (before and after a resume).
. "$(dirname "$0")/lib.bash"
# 6002 ratings: 4802 train -> 76 steps per epoch, the last of only 2 ratings, so with 3 or 4
# workers some slices of it are empty. 3 epochs = 228 steps; checkpoints at step 100 (mid epoch 1).
"$CFPS" gen --users 300 --items 200 --ratings 6002 --seed 7 --out "$WORK/r.data" 2>/dev/null
C=(--data "$WORK/r.data" --factors 8 --epochs 3 --batch-size 64)
CK=(--checkpoint-every 100 --keep 5)
MID=step-000000100
# Every exported file, by name, with its sha256.
sums() {
  [ -f "$1/user_factors.npy" ] || fail "no export in $1"
  (cd "$1" && sha256sum ./*.npy ./*.tsv)
}
same() {  # dir, reference dir, what
  [ "$(sums "$WORK/$1")" = "$(sums "$WORK/$2")" ] || fail "$3: $1 differs from $2"
}
# The losses of each epoch (timings and byte counts left out).
losses() {
  sed -E 's/.*"epoch": ([0-9]+), "step": ([0-9]+), "train_loss": ([^,]+), "valid_mse": ([^,]+), "valid_rmse": ([^,]+),.*"valid_unknown": ([0-9]+).*/\1 \2 \3 \4 \5 \6/' "$1"
}
train() {  # np, ps, out dir name, extra options...
  local np=$1 ps=$2 out=$3
  shift 3
  $MPIRUN -np "$np" "$CFPS" train "${C[@]}" --ps "$ps" --export "$WORK/$out" "$@" \
    > "$WORK/$out.log" 2>&1 || fail "mpirun -np $np --ps $ps $*: $(tail -3 "$WORK/$out.log")"
}

# 1. --ps 0 on N ranks == 1 server + N workers (and 2 servers + 2 workers), N = 2, 3, 4.
# The --ps 0 runs write checkpoints as they go: writing them must not change the result either.
for n in 2 3 4; do
  train "$n" 0 a$n --metrics-out "$WORK/a$n.jsonl" --checkpoint-dir "$WORK/cka$n" "${CK[@]}"
  train $((n + 1)) 1 b$n --metrics-out "$WORK/b$n.jsonl"
  grep -q "$n ranks: $n servers, $n workers" "$WORK/a$n.log" || fail "--ps 0: $(grep ranks: "$WORK/a$n.log")"
  grep -q "$((n + 1)) ranks: 1 servers\?, $n workers" "$WORK/b$n.log" ||
    fail "--ps 1: $(grep ranks: "$WORK/b$n.log")"
  same a$n b$n "$n workers, --ps 0 vs --ps 1"
  [ "$(wc -l < "$WORK/a$n.jsonl")" = 3 ] || fail "a$n: $(wc -l < "$WORK/a$n.jsonl") metrics lines"
  [ "$(losses "$WORK/a$n.jsonl")" = "$(losses "$WORK/b$n.jsonl")" ] ||
    fail "$n workers: per-epoch losses differ: $(losses "$WORK/a$n.jsonl") vs $(losses "$WORK/b$n.jsonl")"
  # The comparison is between trained models: the validation loss went down.
  losses "$WORK/a$n.jsonl" | awk 'NR == 1 {first = $4} END {exit !($4 < first)}' ||
    fail "a$n: validation loss did not decrease: $(losses "$WORK/a$n.jsonl")"
  pass "$n workers: --ps 0 on $n ranks == 1 server + $n workers (every .npy/.tsv, every epoch's losses)"
done
train 4 2 c2 --checkpoint-dir "$WORK/ckc2" "${CK[@]}"
same c2 a2 "2 workers, --ps 2 vs --ps 0"
pass "2 workers: --ps 0 on 2 ranks == 2 servers + 2 workers"
# The other checkpointed cluster runs below are also uninterrupted runs of their worker count.
train 4 1 b3k --checkpoint-dir "$WORK/ckb3" "${CK[@]}"
same b3k a3 "3 workers, --ps 1 with checkpoints vs --ps 0"
"$CFPS" train "${C[@]}" --checkpoint-dir "$WORK/cks1" "${CK[@]}" --export "$WORK/s1" \
  > "$WORK/s1.log" 2>&1 || fail "single process: $(tail -3 "$WORK/s1.log")"
train 2 1 k1 --checkpoint-dir "$WORK/ckk1" "${CK[@]}"
same k1 s1 "1 worker, 1 server + 1 worker vs the single process"
pass "checkpointed runs: 1 server + 3 workers == --ps 0 on 3; 1 server + 1 worker == single process"

# 2. A checkpoint holds the same parameters whichever mode wrote it (same step, same workers).
exp() { "$CFPS" export --checkpoint "$WORK/$1/$MID" --out "$WORK/x_$1" >/dev/null || fail "export $1"; }
for d in cka2 ckc2 cka3 ckb3 cks1 ckk1; do exp $d; done
same x_cka2 x_ckc2 "step 100, 2 workers: checkpoint of --ps 0 (2 shards) vs --ps 2"
same x_cka3 x_ckb3 "step 100, 3 workers: checkpoint of --ps 0 (3 shards) vs --ps 1"
same x_cks1 x_ckk1 "step 100, 1 worker: checkpoint of the single process vs --ps 1"
pass "step-100 checkpoints: --ps 0 == cluster (2 and 3 workers), single process == cluster (1 worker)"

# 3. Resume across the modes with the same workers: equal to the uninterrupted run.
train 3 1 r_a2_c --resume "$WORK/cka2/$MID"      # --ps 0, 2 shards -> 1 server + 2 workers
same r_a2_c a2 "--ps 0 (2 ranks) -> --ps 1 (3 ranks)"
train 3 0 r_b3_a --resume "$WORK/ckb3/$MID"      # 1 server + 3 workers -> --ps 0, 3 shards
same r_b3_a a3 "--ps 1 (4 ranks) -> --ps 0 (3 ranks)"
train 6 2 r_a4_c --resume "$WORK/cka4/$MID"      # --ps 0, 4 shards -> 2 servers + 4 workers
same r_a4_c a4 "--ps 0 (4 ranks) -> --ps 2 (6 ranks)"
train 3 0 r_a3_a --resume "$WORK/cka3/$MID"      # --ps 0 -> --ps 0
same r_a3_a a3 "--ps 0 (3 ranks) -> --ps 0 (3 ranks)"
pass "mid-epoch resume --ps 0 <-> cluster (2, 3, 4 workers; shards 2->1, 1->3, 4->2, 3->3) == uninterrupted"

# 4. Single process <-> --ps 0. The single process has one worker and --ps 0 on N > 1 ranks has N,
# so these runs change W at the resume; each must equal the same W sequence run in cluster mode.
train 2 0 r_s1_a --resume "$WORK/cks1/$MID"      # single (W=1) -> --ps 0 (W=2)
train 4 2 r_k1_c --resume "$WORK/ckk1/$MID"      # 1 server + 1 worker -> 2 servers + 2 workers
same r_s1_a r_k1_c "1 then 2 workers: single -> --ps 0 vs cluster -> cluster"
"$CFPS" train "${C[@]}" --resume "$WORK/cka2/$MID" --export "$WORK/r_a2_s" \
  > "$WORK/r_a2_s.log" 2>&1 || fail "resume in the single process: $(tail -3 "$WORK/r_a2_s.log")"
train 2 1 r_c2_k --resume "$WORK/ckc2/$MID"      # 2 servers + 2 workers -> 1 server + 1 worker
same r_a2_s r_c2_k "2 then 1 workers: --ps 0 -> single vs cluster -> cluster"
pass "single process <-> --ps 0 across a resume == the same worker counts in cluster mode"

# 5. --exchange nccl is for ranks that each train on a GPU: on CPU ranks it is one clear line and
# exit 1 (with a GPU per rank, tests/gpu/device_check.sh compares it with --exchange mpi).
set +e
$MPIRUN -np 2 "$CFPS" train "${C[@]}" --ps 0 --device cpu --exchange nccl > "$WORK/nccl.out" 2> "$WORK/nccl.err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "--exchange nccl on CPU ranks: exit 0"
grep -q "exchange nccl needs two or more ranks, every one training on its own GPU" "$WORK/nccl.err" ||
  fail "--exchange nccl on CPU ranks: $(cat "$WORK/nccl.err")"
[ "$(grep -c "cfps train" "$WORK/nccl.err")" = 1 ] || fail "--exchange nccl: not one line: $(cat "$WORK/nccl.err")"
pass "--exchange nccl on CPU ranks: $(grep "cfps train" "$WORK/nccl.err")"
