#!/usr/bin/env bash
# The H200 run (device machine, no Java installed there): unpacks .device/{jre,bundle}.tar.xz (gpu-bundle.sh), then
#   1. every engine-gpu test (CUDA op tests, training step vs the float64 oracle, golden fixtures) via JUnit's console,
#   2. brt check cpu,cuda on the four fixture checkpoints (fp32) and on one in tf32 and bf16,
#   3. GpuBench: medium_150M training throughput, Rec:fixed:skip, Slide:13L, XL:2048.
#   profile: GpuBench with -Dbrt.gpu.profile=$PROFILE_MODE (true: device-synced per call; events: device events,
#   not synced; per-kernel device times; FAMILIES, STEPS).
#   tests takes TESTS (default --select-package brt4j.gpu; e.g. "--select-class brt4j.gpu.FlashAttentionTest").
#   bench takes BENCH_FAMILIES (default all three) and JAVA_EXTRA (more JVM flags, e.g. -Dbrt.gpu.batchedAttention=false);
#   BENCH_APPEND=1 appends to bench.txt instead of replacing it.
# Writes logs under $OUT (tests.txt, check.txt, bench.txt, profile.txt).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/brt-out}; mkdir -p "$OUT"
DEV=.device; source benchmarks/scripts/device-env.sh
{ nvidia-smi -L; nvidia-smi --query-gpu=driver_version,memory.total --format=csv; ls /etc/OpenCL/vendors 2>&1; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; } | tee "$OUT/env.txt"
if [ "${1:-all}" = all ] || [ "$1" = tests ]; then
  timeout 240 $J $FLAGS -Dbrt.shared=$S/shared -jar $S/junit-platform-console-standalone-1.14.1.jar execute \
    --class-path "$S/test-classes:$CP" ${TESTS:---select-package brt4j.gpu} --details=tree --disable-banner 2>&1 | tee "$OUT/tests.txt" | tail -40
fi
if [ "${1:-all}" = all ] || [ "$1" = check ]; then
  : > "$OUT/check.txt"
  for f in rec_fixed_skip feedback_fixed_skip slide xl; do
    timeout 60 $J $FLAGS -cp "$CP" brt4j.cli.Brt check --checkpoint $S/shared/fixtures/brt/$f --devices cpu,cuda --precision fp32 >> "$OUT/check.txt" 2>&1
    echo "exit $? ($f fp32)" >> "$OUT/check.txt"
  done
  for p in tf32 bf16; do
    timeout 60 $J $FLAGS -cp "$CP" brt4j.cli.Brt check --checkpoint $S/shared/fixtures/brt/rec_fixed_skip --devices reference,cuda --precision $p >> "$OUT/check.txt" 2>&1
    echo "exit $? (rec_fixed_skip $p)" >> "$OUT/check.txt"
  done
  grep -E "^(PASS|FAIL|exit|expected|actual|brt:)" "$OUT/check.txt"
fi
if [ "${1:-all}" = profile ]; then                  # per-kernel times (GpuBackend's debug flag)
  timeout ${BENCH_TIMEOUT:-250} $J $FLAGS ${JAVA_EXTRA:-} -Xmx48g -Dbrt.gpu.profile=${PROFILE_MODE:-true} -cp "$CP" brt4j.gpu.GpuBench cuda ${PRECISION:-bf16} ${STEPS:-1} \
    ${FAMILIES:-Rec:fixed:skip Slide:13L} 2>&1 | tee "$OUT/profile.txt"
fi
if [ "${1:-all}" = all ] || [ "$1" = bench ]; then
  timeout ${BENCH_TIMEOUT:-250} $J $FLAGS ${JAVA_EXTRA:-} -Xmx48g -cp "$CP" brt4j.gpu.GpuBench cuda ${PRECISION:-bf16} ${STEPS:-4} \
    ${BENCH_FAMILIES:-} 2>&1 | tee ${BENCH_APPEND:+-a} "$OUT/bench.txt" | grep -v "step [0-9]"
fi
