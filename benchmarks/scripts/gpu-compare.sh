#!/usr/bin/env bash
# One device call (H200): brt4j's CUDA tests, GpuBench, a per-kernel profile of Rec:fixed:skip, then the PyTorch
# transcription (brt_torch.py) eager and torch.compile on the same GPU, then brt check. Logs under $OUT.
# Carry .device/jre.tar.xz and .device/bundle.tar.xz (gpu-bundle.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/brt-out}; mkdir -p "$OUT"; export OUT PYTHONUNBUFFERED=1
S=benchmarks/scripts
bash $S/gpu-h200.sh tests > /tmp/tests-tail.txt 2>&1; grep -E "tests (successful|failed|aborted)|✘" "$OUT/tests.txt" | head -20
STEPS=${STEPS:-5} bash $S/gpu-h200.sh bench | grep -v "^WARNING"
if [ -n "${ABLATION:-}" ]; then                    # the same bench with extra JVM flags, appended to bench.txt
  echo "ablation: $ABLATION"; echo "ablation: $ABLATION" >> "$OUT/bench.txt"
  JAVA_EXTRA="$ABLATION" BENCH_APPEND=1 BENCH_FAMILIES="${ABLATION_FAMILIES:-Rec:fixed:skip}" STEPS=3 bash $S/gpu-h200.sh bench | grep "^|"
fi
STEPS=1 FAMILIES=${PROFILE_FAMILIES:-Rec:fixed:skip} bash $S/gpu-h200.sh profile > /dev/null 2>&1
grep -A24 "^profile" "$OUT/profile.txt"
timeout ${TORCH_EAGER_TIMEOUT:-120} python3 $S/brt_torch.py bench --steps 5 --warmup 3 --modes eager 2>&1 | tee "$OUT/torch-eager.txt" | grep "|"
for f in ${COMPILE_FAMILIES:-Slide:13L XL:2048 Rec:fixed:skip}; do
  timeout ${TORCH_COMPILE_TIMEOUT:-200} python3 $S/brt_torch.py bench --steps 5 --warmup 3 --modes compile $f 2>&1 \
    | tee -a "$OUT/torch-compile.txt" | grep "^| [A-Z]"
done
[ -n "${CHECK:-}" ] && bash $S/gpu-h200.sh check | grep -E "^(PASS|FAIL|exit)"
exit 0
