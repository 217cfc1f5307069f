#!/usr/bin/env bash
# Transport independence: the model does not depend on how the bytes travel. The same training
# run over shared memory (launch/env.sh: btl self,vader), over TCP (btl tcp,self on the loopback,
# as between hosts), from a hostfile (launch/hosts.example), and through the launch line of
# launch/slurm.sbatch (2 servers + 2 workers) exports bitwise identical .npy files.
. "$(dirname "$0")/lib.bash"
"$CFPS" gen --users 300 --items 200 --ratings 20000 --seed 11 --out "$WORK/r.data" 2>/dev/null
common=(--data "$WORK/r.data" --factors 8 --epochs 2 --batch-size 128 --seed 42)
sums() { (cd "$1" && sha256sum user_factors.npy user_bias.npy item_factors.npy item_bias.npy users.tsv items.tsv); }
# TCP between ranks of one machine: only the loopback is sure to exist (Open MPI excludes it by
# default), and the environment's btl setting is replaced, not just the command line's.
TCP=(--mca btl tcp,self --mca btl_tcp_if_include 127.0.0.0/8)

$MPIRUN -np 3 "$CFPS" train "${common[@]}" --ps 1 --export "$WORK/shm" >/dev/null
ref=$(sums "$WORK/shm")

OMPI_MCA_btl=tcp,self $MPIRUN "${TCP[@]}" --mca btl_base_verbose 100 -np 3 \
  "$CFPS" train "${common[@]}" --ps 1 --export "$WORK/tcp" >"$WORK/tcp.log" 2>&1 \
  || fail "TCP run failed: $(tail -20 "$WORK/tcp.log")"
grep -q 'Using tcp btl' "$WORK/tcp.log" || fail "the TCP run did not use the tcp btl"
if grep -q 'Using vader btl' "$WORK/tcp.log"; then fail "the TCP run used shared memory"; fi
[ "$(sums "$WORK/tcp")" = "$ref" ] || fail "TCP export differs from shared memory"
pass "btl tcp,self == btl self,vader (1 server + 2 workers)"

# The hostfile gives 4 slots on localhost: 4 ranks start without oversubscription (the machine
# may have 2 cores), so the file is really read. 2 servers + 2 workers equal 1 server + 2 workers.
OMPI_MCA_btl=tcp,self OMPI_MCA_rmaps_base_oversubscribe=0 \
  $MPIRUN --hostfile "$SRC/launch/hosts.example" "${TCP[@]}" -np 4 \
  "$CFPS" train "${common[@]}" --ps 2 --export "$WORK/hostfile" >"$WORK/hostfile.log" 2>&1 \
  || fail "hostfile run failed: $(tail -20 "$WORK/hostfile.log")"
[ "$(sums "$WORK/hostfile")" = "$ref" ] || fail "hostfile (TCP, --ps 2) export differs"
pass "--hostfile launch/hosts.example over TCP, --ps 2 == shared memory --ps 1"

# launch/slurm.sbatch: valid bash; its settings block and its marked launch line, run here at
# small size (the settings come from the environment, as sbatch passes them).
bash -n "$SRC/launch/slurm.sbatch" || fail "slurm.sbatch has a syntax error"
grep -q '^#SBATCH --nodes=' "$SRC/launch/slurm.sbatch" || fail "no #SBATCH --nodes line"
settings=$(sed -n '/^# CFPS-SETTINGS/,/^# CFPS-LAUNCH/p' "$SRC/launch/slurm.sbatch")
launch=$(sed -n '/^# CFPS-LAUNCH/{n;p;}' "$SRC/launch/slurm.sbatch")
[ -n "$settings" ] || fail "slurm.sbatch has no '# CFPS-SETTINGS' block"
case $launch in "mpirun "*) ;; *) fail "the line after '# CFPS-LAUNCH' is not an mpirun line: $launch" ;; esac
case $launch in *"--ps 2 "*) ;; *) fail "the launch line does not train with --ps 2: $launch" ;; esac
(
  export CFPS="$CFPS" CFPS_DATA="$WORK/r.data" CFPS_OUT="$WORK/slurm" CFPS_NP=4 CFPS_EPOCHS=2 \
    CFPS_FACTORS=8 CFPS_BATCH=128 CFPS_SEED=42
  eval "$settings"
  mkdir -p "$CFPS_OUT"
  eval "$MPIRUN ${launch#mpirun }"
) >"$WORK/slurm.log" 2>&1 || fail "the slurm.sbatch launch line failed: $(tail -20 "$WORK/slurm.log")"
[ "$(wc -l < "$WORK/slurm/metrics.jsonl")" = 2 ] || fail "slurm run: expected 2 metrics lines"
[ "$(sums "$WORK/slurm/model")" = "$ref" ] || fail "slurm.sbatch launch (--ps 2) export differs"
pass "launch/slurm.sbatch launch line (4 ranks, --ps 2) == shared memory"
echo "$ref"
