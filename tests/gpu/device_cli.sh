#!/usr/bin/env bash
# --device and the CUDA build, on any machine (ctest gpu_device_cli):
#  - a build for which CMake found nvcc ("cuda") has the kernels inside the one cfps binary:
#    `cfps --help` names the architectures, the kernels' symbols are there, and the .nv_fatbin
#    section holds sm_80 and sm_90 code and sm_90 PTX; a CPU-only build ("cpu-only") says so;
#  - without a usable GPU, --device cuda is one error line and exit 1 (one process and under
#    mpirun), --device auto trains on the CPU; with a GPU, auto says so in one line;
#  - a bad --device value is a usage error (exit 2).
# usage: device_cli.sh path/to/cfps [source dir] cuda:ARCHS|cpu-only
#   ARCHS: CMake's CUDA_ARCHITECTURES with ',' for ';' (default build: 80-real,90)
. "$(dirname "$0")/../integration/lib.bash"
EXPECT=${3:?usage: $0 cfps srcdir cuda:ARCHS|cpu-only}
ARCHS=""
case "$EXPECT" in cuda:*) ARCHS=${EXPECT#cuda:}; EXPECT=cuda ;; esac
# What the help line and the fatbin must show for ARCHS: "80-real" is SASS only, "90" SASS + PTX,
# "90-virtual" PTX only.
SASS="" PTX="" WANT=""
for a in ${ARCHS//,/ }; do
  n=${a%%-*}
  case "$a" in *-virtual) ;; *) SASS="$SASS${SASS:+,}sm_$n"; WANT="$WANT sass_$n" ;; esac
  case "$a" in *-real) ;; *) PTX="$PTX${PTX:+,}compute_$n"; WANT="$WANT ptx_$n" ;; esac
done
D=$WORK
printf '1\t10\t4\t0\n2\t20\t3\t0\n3\t10\t5\t0\n1\t20\t2\t0\n2\t10\t1\t0\n3\t20\t4\t0\n' > $D/r.data

# 1. What the binary carries.
"$CFPS" --help > $D/help
if [ "$EXPECT" = cuda ]; then
  [ -n "$WANT" ] || fail "no CUDA architectures given (third argument cuda:ARCHS)"
  grep -qF "build: cuda: built for $SASS${PTX:+ (+PTX $PTX)}" $D/help \
    || fail "cfps --help does not report the CUDA kernels: $(tail -1 $D/help)"
  nm -C "$CFPS" > $D/symbols
  for kernel in ForwardKernel GradientKernel; do
    grep -q "cfps::cuda::.*$kernel" $D/symbols || fail "kernel $kernel is not linked into cfps"
  done
  objcopy -O binary --only-section=.nv_fatbin "$CFPS" $D/fatbin
  # Fatbin containers (magic 0xBA55ED50): entries of kind 2 (ELF, i.e. SASS) or 1 (PTX) and arch.
  "$PY" - $D/fatbin > $D/archs <<'EOF' || fail "cannot read the .nv_fatbin section of cfps"
import struct, sys
d = open(sys.argv[1], 'rb').read()
seen, off = set(), d.find(b'\x50\xed\x55\xba')
while 0 <= off and off + 16 <= len(d):
    magic, version, header, size = struct.unpack_from('<IHHQ', d, off)
    p, end = off + header, off + header + size
    while p + 32 <= end:
        kind, _, entry_header, entry_size = struct.unpack_from('<HHIQ', d, p)
        arch = struct.unpack_from('<I', d, p + 28)[0]
        seen.add(('sass' if kind == 2 else 'ptx' if kind == 1 else str(kind)) + '_' + str(arch))
        p += entry_header + entry_size
    off = d.find(b'\x50\xed\x55\xba', end)
print(' '.join(sorted(seen)))
EOF
  for want in $WANT; do
    grep -qw "$want" $D/archs || fail "cfps has no $want code in .nv_fatbin (found: $(cat $D/archs))"
  done
  pass "cfps carries the CUDA kernels: $(tail -1 $D/help | sed 's/^build: //'); fatbin: $(cat $D/archs)"
else
  grep -qF "build: cuda: not built" $D/help || fail "a CPU-only build should say so: $(tail -1 $D/help)"
  pass "CPU-only build says so"
fi

# 2. auto: the CPU without a GPU (no device line), a GPU with one line.
"$CFPS" train --data $D/r.data --epochs 1 --valid-pct 0 > $D/auto.out 2>&1 || fail "auto: $(cat $D/auto.out)"
if grep -q "device: CUDA kernels on 1 of 1 worker (rank 0 on GPU 0" $D/auto.out; then
  HAVE_GPU=1
  pass "--device auto uses the GPU: $(grep 'device:' $D/auto.out)"
else
  HAVE_GPU=0
  grep -q "device:" $D/auto.out && fail "auto printed a device line without a GPU: $(cat $D/auto.out)"
  pass "--device auto trains on the CPU without a GPU"
fi

# 3. --device cuda.
expect_error() {  # EXIT NEEDLE -- command...
  local want=$1 needle=$2; shift 3
  rm -rf $D/m.jsonl $D/model
  set +e
  timeout -k 5 120 "$@" --metrics-out $D/m.jsonl --export $D/model > $D/stdout 2> $D/stderr
  local rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "exit $rc (want $want): $*: $(cat $D/stderr)"
  grep -qF -- "$needle" $D/stderr || fail "stderr lacks '$needle': $*: $(cat $D/stderr)"
  [ "$(grep -cE 'cfps train(\[[^]]*\])?: error' $D/stderr)" = 1 ] || fail "not exactly one error line: $*: $(cat $D/stderr)"
  grep -qE 'Segmentation fault|core dumped|terminate called|internal error|signal 6|signal 11' $D/stderr \
    && fail "crash: $*: $(cat $D/stderr)"
  [ ! -e $D/m.jsonl ] && [ ! -e $D/model ] || fail "output left behind by: $*"
  pass "$(grep -E 'cfps train(\[[^]]*\])?: error' $D/stderr)"
}
if [ $HAVE_GPU = 0 ]; then
  if [ "$EXPECT" = cuda ]; then why="cudaGetDeviceCount"; else why="built without CUDA"; fi
  expect_error 1 "--device cuda: rank 0 (server+worker) has no usable GPU: " -- \
    "$CFPS" train --data $D/r.data --device cuda
  grep -qF "$why" $D/stderr || fail "the error does not give the reason ($why): $(cat $D/stderr)"
  expect_error 1 "--device cuda: rank 1 (worker) has no usable GPU" -- \
    $MPIRUN -np 3 "$CFPS" train --data $D/r.data --ps 1 --device cuda
else
  "$CFPS" train --data $D/r.data --epochs 1 --valid-pct 0 --device cuda > $D/cuda.out 2>&1 \
    || fail "--device cuda with a GPU: $(cat $D/cuda.out)"
  pass "--device cuda trains on the GPU"
fi

# 4. cpu: no device line; a bad value; the INI key.
"$CFPS" train --data $D/r.data --epochs 1 --valid-pct 0 --device cpu > $D/cpu.out 2>&1 || fail "cpu: $(cat $D/cpu.out)"
grep -q "device:" $D/cpu.out && fail "--device cpu printed a device line: $(cat $D/cpu.out)"
expect_error 2 "--device must be auto, cpu or cuda, got 'gpu'" -- "$CFPS" train --data $D/r.data --device gpu
printf 'data = %s\ndevice = cpu\nepochs = 1\nvalid-pct = 0\n' $D/r.data > $D/train.ini
"$CFPS" train --config $D/train.ini > $D/ini.out 2>&1 || fail "device in --config: $(cat $D/ini.out)"
pass "--device cpu, a bad value and the INI key behave"
