#!/usr/bin/env bash
# The device check: everything the GPU path needs verified on a real GPU, in one run of a few
# minutes (budget: under 8 minutes on an H100/H200). From the repository root:
#
#     bash tests/gpu/device_check.sh            # writes under $OUT, or out/device_check/
#
#  1. the machine: nvidia-smi, nvcc, compilers; the build dependencies, unpacked from a carried
#     .devdeps/ when the machine lacks them (tests/gpu/device_deps.sh makes it: run that here first,
#     then call the device tool with carry [".devdeps"]);
#  2. configure and build with CUDA (-DCFPS_CUDA=ON: no silent CPU-only build) into $BUILD
#     (default build-gpu; an existing CUDA build there is reused);
#  3. the GPU tests (ctest -L gpu: gpu_tests and gpu_device_cli): CUDA vs CPU on random batches
#     (k = 1, 16, 50, 64, 128), bitwise determinism, out of memory, the GPU shard's optimizer and
#     the device-resident step's calls bitwise against the CPU, whole trainings;
#  4. the kernel benchmark: 25M ratings of the ML-25M shape, k=64, batches of 65,536: ratings/s
#     and GB/s against the card's memory bandwidth;
#  5. cfps train on generated ml-100k-shaped data with --device cuda and --device cpu (one
#     process at batch 64 and 1024, and 1 server + 2 workers under mpirun), valid MSE side by side
#     (one process with --device cuda keeps its shard on the GPU and runs the device-resident step:
#     what --gpus 1 runs);
#  6. the multi-GPU mode with two GPUs or more: --exchange nccl equals --exchange mpi bitwise and in
#     bytes moved, and its throughput on the ML-25M shape next to one GPU.
# Every step has its own time limit; a failing step is reported and the others still run. The
# summary (and the exit status: 0 only if every step passed) is at the end of the log.
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC=$(pwd)
OUT=${OUT:-$SRC/out/device_check}
mkdir -p "$OUT"
LOG=$OUT/device_check.log
exec > >(tee "$LOG") 2>&1
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
export PATH=$PATH:/usr/local/cuda/bin
. launch/env.sh
START=$(date +%s)
FAILED=""
step() { echo; echo "=== [$(( $(date +%s) - START )) s] $*"; }
record() {  # NAME RC
  if [ "$2" = 0 ]; then echo "--- $1: ok"; else echo "--- $1: FAILED (exit $2)"; FAILED="$FAILED $1"; fi
}

step "1. machine"
date -u
nvidia-smi || echo "(no nvidia-smi)"
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,driver_version --format=csv 2>/dev/null
nvcc --version 2>/dev/null | tail -2 || echo "(no nvcc on PATH)"
cmake --version | head -1; g++ --version | head -1; mpirun --version 2>/dev/null | head -1
echo "cores: $(nproc); git: $(git rev-parse --short HEAD 2>/dev/null) $(git status --short 2>/dev/null | wc -l) changed files"

step "1b. build dependencies (Open MPI, Boost.Program_options, GoogleTest)"
# A bare CUDA image may lack them and cannot fetch them: tests/gpu/device_deps.sh downloads them
# as .deb files into .devdeps/ on the development machine; the device tool carries that folder
# (carry: [".devdeps"]) and they are unpacked here, not installed.
CMAKE_DEPS=()
if command -v mpicxx > /dev/null && [ -e /usr/include/boost/program_options.hpp ] &&
   [ -e /usr/include/gtest/gtest.h ]; then
  echo "the machine has them: $(command -v mpicxx), /usr/include/boost, /usr/include/gtest"
elif ls .devdeps/*.deb > /dev/null 2>&1; then
  DEVROOT=/tmp/devroot
  mkdir -p "$DEVROOT/bin"
  for f in .devdeps/*.deb; do
    if command -v dpkg > /dev/null; then
      dpkg -x "$f" "$DEVROOT"
    else  # not a Debian-based image: a .deb is an ar archive holding data.tar.*
      (d=$(mktemp -d) && cd "$d" && ar x "$SRC/$f" && tar -xf data.tar.* -C "$DEVROOT"; rm -rf "$d")
    fi
  done
  # Debian's postinst would make these alternatives; Open MPI finds its files via OPAL_PREFIX.
  for t in mpicc mpicxx mpirun mpiexec; do ln -sf "$DEVROOT/usr/bin/$t.openmpi" "$DEVROOT/bin/$t"; done
  export OPAL_PREFIX=$DEVROOT/usr
  export PATH=$DEVROOT/bin:$DEVROOT/usr/bin:$PATH
  export LD_LIBRARY_PATH=$DEVROOT/usr/lib/x86_64-linux-gnu:$DEVROOT/usr/lib/x86_64-linux-gnu/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  CMAKE_DEPS=(-DMPI_CXX_COMPILER="$DEVROOT/bin/mpicxx" -DMPI_C_COMPILER="$DEVROOT/bin/mpicc"
              -DCMAKE_PREFIX_PATH="$DEVROOT/usr")
  echo "unpacked $(ls .devdeps/*.deb | wc -l) packages into $DEVROOT: $(mpicxx --showme:version 2>&1 | head -1)"
else
  echo "MISSING: no MPI compiler wrapper, Boost or GoogleTest here, and no .devdeps/ carried."
  echo "On the development machine: bash tests/gpu/device_deps.sh, then run with carry [\".devdeps\"]."
fi

step "2. configure and build with CUDA into $BUILD (-j$JOBS)"
if [ -x "$BUILD/cfps" ] && "$BUILD/cfps" --help | grep -q "cuda: built for"; then
  echo "reusing the CUDA build in $BUILD"
  timeout 400 cmake --build "$BUILD" -j"$JOBS" > "$OUT/build.log" 2>&1
  rc=$?
else
  { timeout 120 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCFPS_CUDA=ON \
      "${CMAKE_DEPS[@]}" && timeout 400 cmake --build "$BUILD" -j"$JOBS"; } > "$OUT/build.log" 2>&1
  rc=$?
fi
tail -5 "$OUT/build.log"
record build $rc
if [ $rc != 0 ]; then
  grep -E "error|Error" "$OUT/build.log" | head -20
  echo "SUMMARY: the build failed; nothing else can run (log: $OUT/build.log)"
  exit 1
fi
"$BUILD/cfps" --help | tail -1
echo "build took $(( $(date +%s) - START )) s so far"

step "3. GPU tests (gpu_tests in one process, then ctest's gpu_device_cli)"
timeout 300 "$BUILD/tests/gpu_tests" > "$OUT/gpu_tests.log" 2>&1
rc=$?
# The seeds, the bitwise-agreement counts and the training MSEs the tests print, then the verdict.
grep -E "^\[ (seed|bits|train) " "$OUT/gpu_tests.log"
grep -E "^\[ *(OK|FAILED|SKIPPED|PASSED) " "$OUT/gpu_tests.log" | tail -25
grep -B2 -A12 "Failure" "$OUT/gpu_tests.log" | head -80
record gpu_tests $rc
if grep -q "no GPU: " "$OUT/gpu_tests.log"; then
  grep -m1 "no GPU: " "$OUT/gpu_tests.log"
  record gpu_visible 1  # the CUDA tests skipped: they did not check anything here
fi
timeout 120 ctest --test-dir "$BUILD" -R gpu_device_cli --output-on-failure > "$OUT/device_cli.log" 2>&1
rc=$?
grep -E "^ok:|FAIL|tests passed" "$OUT/device_cli.log"
record gpu_device_cli $rc

step "4. kernel benchmark (ML-25M shape, k=64, batch 65,536)"
NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
case "$NAME" in  # datasheet values, used only when the runtime does not report the memory clock
  *H200*) PEAK_FALLBACK=4800 ;;
  *H100*PCIe*) PEAK_FALLBACK=2000 ;;
  *H100*) PEAK_FALLBACK=3350 ;;
  *A100*80GB*) PEAK_FALLBACK=2039 ;;
  *A100*) PEAK_FALLBACK=1555 ;;
  *) PEAK_FALLBACK=0 ;;
esac
PEAK_ARG=""
timeout 240 "$BUILD/tests/kernel_bench" > "$OUT/kernel_bench.txt" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "peak_gb_per_s=0 " "$OUT/kernel_bench.txt" && [ "$PEAK_FALLBACK" != 0 ]; then
  echo "(the runtime reports no memory clock: rerunning with the datasheet's $PEAK_FALLBACK GB/s for $NAME)"
  PEAK_ARG="--peak-gbs $PEAK_FALLBACK"
  timeout 240 "$BUILD/tests/kernel_bench" $PEAK_ARG > "$OUT/kernel_bench.txt" 2>&1
  rc=$?
fi
cat "$OUT/kernel_bench.txt"
record kernel_bench $rc
# A smaller batch (the latency-bound regime) for contrast.
timeout 120 "$BUILD/tests/kernel_bench" --ratings 5000000 --batch 8192 --batches 200 \
  --cpu-batches 1 $PEAK_ARG > "$OUT/kernel_bench_8192.txt" 2>&1
record kernel_bench_8192 $?
grep -E "^(batches|kernels|whole call|RESULT)" "$OUT/kernel_bench_8192.txt"

step "5. cfps train on ml-100k-shaped data: --device cuda vs --device cpu"
DATA=$OUT/ml100k_shape.data
"$BUILD/cfps" gen --out "$DATA" > /dev/null
train() {  # NAME LAUNCHER... -- ARGS...
  local name=$1; shift
  timeout 300 "$@" --metrics-out "$OUT/$name.jsonl" > "$OUT/$name.txt" 2>&1
  local rc=$?
  grep -E "^(cfps: device|cfps: rank|epoch|[0-9]+ )|error" "$OUT/$name.txt" | sed "s/^/$name: /"
  record "$name" $rc
}
for bs in 64 1024; do
  train "train_cuda_b$bs" "$BUILD/cfps" train --data "$DATA" --batch-size $bs --device cuda
  train "train_cpu_b$bs" "$BUILD/cfps" train --data "$DATA" --batch-size $bs --device cpu
done
train train_cuda_mpi3 mpirun -np 3 "$BUILD/cfps" train --ps 1 --data "$DATA" --batch-size 1024 --device cuda
train train_cpu_mpi3 mpirun -np 3 "$BUILD/cfps" train --ps 1 --data "$DATA" --batch-size 1024 --device cpu
"${PYTHON:-python3}" - "$OUT" <<'EOF'
import json, sys, os
out = sys.argv[1]
def last(name):
    p = os.path.join(out, name + '.jsonl')
    try:
        lines = [json.loads(l) for l in open(p) if l.strip()]
        return lines[-1] if lines else None
    except Exception:
        return None
ok = True
for a, b in [('train_cuda_b64', 'train_cpu_b64'), ('train_cuda_b1024', 'train_cpu_b1024'),
             ('train_cuda_mpi3', 'train_cpu_mpi3')]:
    x, y = last(a), last(b)
    if not x or not y:
        print(f'{a} vs {b}: missing metrics'); ok = False; continue
    d = abs(x['valid_mse'] - y['valid_mse'])
    good = d <= 1e-4
    ok &= good
    print(f"{a}: valid MSE {x['valid_mse']:.6f}, {x['ratings_per_s']:.3g} ratings/s | "
          f"{b}: valid MSE {y['valid_mse']:.6f}, {y['ratings_per_s']:.3g} ratings/s | "
          f"difference {d:.2e} {'ok' if good else 'ABOVE 1e-4'}")
sys.exit(0 if ok else 1)
EOF
record "train_cuda_vs_cpu_mse" $?

step "6. multi-GPU mode (--ps 0 --exchange nccl): bitwise against the MPI exchange, throughput"
GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
if [ "${GPUS:-0}" -ge 2 ]; then
  common=(--data "$DATA" --batch-size 1024 --epochs 2 --seed 5)
  train nccl_gpus mpirun -np "$GPUS" --bind-to none "$BUILD/cfps" train --ps 0 --device cuda \
    --exchange nccl "${common[@]}" --export "$OUT/nccl_model"
  train mpi_gpus mpirun -np "$GPUS" --bind-to none "$BUILD/cfps" train --ps 0 --device cuda \
    --exchange mpi "${common[@]}" --export "$OUT/mpi_model"
  same=0
  for f in user_factors user_bias item_factors item_bias; do
    cmp -s "$OUT/nccl_model/$f.npy" "$OUT/mpi_model/$f.npy" || { echo "$f.npy differs"; same=1; }
  done
  # The same bytes moved: the pulled/pushed counts of the last epoch.
  "${PYTHON:-python3}" - "$OUT" <<'EOF2' || same=1
import json, sys
a = [json.loads(l) for l in open(sys.argv[1] + '/nccl_gpus.jsonl') if l.strip()][-1]
b = [json.loads(l) for l in open(sys.argv[1] + '/mpi_gpus.jsonl') if l.strip()][-1]
keys = [k for k in a if 'bytes' in k or k in ('pulled', 'pushed')]
print('bytes:', {k: (a[k], b.get(k)) for k in keys})
sys.exit(0 if all(a[k] == b.get(k) for k in keys) else 1)
EOF2
  record nccl_equals_mpi $same
  if [ -f "${ML25M:-/nonexistent}" ] || "$BUILD/cfps" gen --users 162541 --items 59047 \
       --ratings 25000000 --out "$OUT/ml25m.cfpsr" > /dev/null 2>&1; then
    M=${ML25M:-$OUT/ml25m.cfpsr}
    train ml25m_nccl_gpus mpirun -np "$GPUS" --bind-to none "$BUILD/cfps" train --ps 0 \
      --device cuda --exchange nccl --data "$M" --factors 64 --batch-size 65536 --epochs 1 \
      --optimizer sgd
    train ml25m_one_gpu "$BUILD/cfps" train --device cuda --data "$M" --factors 64 \
      --batch-size 65536 --epochs 1 --optimizer sgd
  fi
else
  echo "one GPU: the NCCL exchange needs two ranks on two GPUs (NCCL refuses two ranks on one"
  echo "GPU); launch/cfps-gpus 1 runs the single-GPU worker path:"
  timeout 120 launch/cfps-gpus 1 --data "$DATA" --batch-size 1024 --epochs 1 2>&1 | tail -3
  record cfps_gpus_1 $?
  # The NCCL library loads and the exchange refuses one rank with a clear line.
  "$BUILD/cfps" train --data "$DATA" --device cuda --exchange nccl --epochs 1 2>&1 | tail -1
fi

step "summary"
echo "elapsed: $(( $(date +%s) - START )) s; outputs in $OUT"
grep -h "^RESULT" "$OUT/kernel_bench.txt" "$OUT/kernel_bench_8192.txt" 2>/dev/null
if [ -z "$FAILED" ]; then
  echo "SUMMARY: every step passed"
  exit 0
fi
echo "SUMMARY: failed:$FAILED"
exit 1
