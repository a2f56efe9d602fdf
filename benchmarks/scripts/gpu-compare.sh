#!/usr/bin/env bash
# One device call (H200): brt4j's CUDA tests, GpuBench, a per-kernel profile of Rec:fixed:skip, then the PyTorch
# transcription (brt_torch.py) eager and torch.compile on the same GPU, then brt check. Logs under $OUT.
# Carry .device/jre.tar.xz and .device/bundle.tar.xz (gpu-bundle.sh).
# PARALLEL_COMPILE=1: the torch.compile processes start right after the tests and compile side by side (while brt
# check runs), each waiting at a gate once compiled (brt_torch.py --gate); then their timed steps run one process at
# a time, and only after that GpuBench, the profile and eager, on a quiet GPU and CPU. Rec:fixed:skip alone compiles
# for over 140 s, so one after another the three did not fit in one call.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/brt-out}; mkdir -p "$OUT"; export OUT PYTHONUNBUFFERED=1
S=benchmarks/scripts
FAMS=${COMPILE_FAMILIES:-Slide:13L XL:2048 Rec:fixed:skip}
bash $S/gpu-h200.sh tests > /tmp/tests-tail.txt 2>&1; grep -E "tests (successful|failed|aborted)|✘" "$OUT/tests.txt" | head -20
if [ -n "${PARALLEL_COMPILE:-}" ]; then
  G=$(mktemp -d); declare -A PID; LIMIT=${TORCH_COMPILE_TIMEOUT:-300}; DEADLINE=$((SECONDS + LIMIT))
  for f in $FAMS; do                                 # the process's own limit leaves room for waiting at the gate
    timeout $((LIMIT + 120)) python3 $S/brt_torch.py bench --steps 5 --warmup 3 --modes compile --gate $G $f \
      > "$OUT/torch-compile-${f//:/-}.txt" 2>&1 & PID[$f]=$!
  done
  [ -n "${CHECK:-}" ] && bash $S/gpu-h200.sh check | grep -E "^(PASS|FAIL|exit)"
  for f in $FAMS; do                                 # every compile done, or given up at the deadline, before any timed step
    while [ ! -e "$G/ready-${f//:/-}" ] && kill -0 ${PID[$f]} 2>/dev/null && [ $SECONDS -lt $DEADLINE ]; do sleep 1; done
    [ -e "$G/ready-${f//:/-}" ] || { kill ${PID[$f]} 2>/dev/null; echo "$f: not compiled within $LIMIT s" >> "$OUT/torch-compile-${f//:/-}.txt"; }
  done
  echo "compiles done (or given up) at $SECONDS s"
  for f in $FAMS; do                                 # timed steps one process at a time
    touch "$G/go-${f//:/-}"; wait ${PID[$f]}
    cat "$OUT/torch-compile-${f//:/-}.txt" >> "$OUT/torch-compile.txt"; grep "^| [A-Z]" "$OUT/torch-compile-${f//:/-}.txt" \
      || echo "| $f | compile | no result: $(tail -1 "$OUT/torch-compile-${f//:/-}.txt") |"
    rm -f "$OUT/torch-compile-${f//:/-}.txt"         # its lines are in torch-compile.txt: at most 8 files come back
  done
fi
STEPS=${STEPS:-5} bash $S/gpu-h200.sh bench | grep -v "^WARNING"
if [ -n "${ABLATION:-}" ]; then                    # the same bench with extra JVM flags, appended to bench.txt
  echo "ablation: $ABLATION"; echo "ablation: $ABLATION" >> "$OUT/bench.txt"
  JAVA_EXTRA="$ABLATION" BENCH_APPEND=1 BENCH_FAMILIES="${ABLATION_FAMILIES:-Rec:fixed:skip}" STEPS=3 bash $S/gpu-h200.sh bench | grep "^|"
fi
STEPS=1 FAMILIES=${PROFILE_FAMILIES:-Rec:fixed:skip} bash $S/gpu-h200.sh profile > /dev/null 2>&1
grep -A24 "^profile" "$OUT/profile.txt"
timeout ${TORCH_EAGER_TIMEOUT:-120} python3 $S/brt_torch.py bench --steps 5 --warmup 3 --modes eager 2>&1 | tee "$OUT/torch-eager.txt" | grep "|"
if [ -z "${PARALLEL_COMPILE:-}" ]; then
  for f in $FAMS; do
    timeout ${TORCH_COMPILE_TIMEOUT:-200} python3 $S/brt_torch.py bench --steps 5 --warmup 3 --modes compile $f 2>&1 \
      | tee -a "$OUT/torch-compile.txt" | grep "^| [A-Z]"
  done
  [ -n "${CHECK:-}" ] && bash $S/gpu-h200.sh check | grep -E "^(PASS|FAIL|exit)"
fi
echo "done after $SECONDS s"
exit 0
