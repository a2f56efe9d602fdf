#!/usr/bin/env bash
# The multi-GPU checks of issue 8, for a machine of several GPUs (nvidia-h200-x2/x4/x8; not yet run: only the
# one-GPU kind has been lent). Unpacks $DEV/bundle.tar.xz (nccl-bundle.sh) and .device/jre.tar.xz, then
#   1. the NCCL tests (world of one),
#   2. DataParallelBench in fp32: N GPUs x batch 1 vs 1 GPU x batch N, medium_150M Rec:fixed:skip, loss per step,
#   3. DataParallelBench in bf16: tokens/s and scaling efficiency for N = 1, 2, 4, 8 (as many as the machine has).
# NVLink multicast stays off (NCCL_NVLS_ENABLE=0): it can put shared GPUs out of service.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/brt-out}; mkdir -p "$OUT"
source benchmarks/scripts/device-env.sh
FLAGS="$FLAGS -Xmx64g"
export NCCL_DEBUG=WARN NCCL_NVLS_ENABLE=0
G=$(nvidia-smi -L | wc -l); NS=""; for n in 1 2 4 8; do [ $n -le $G ] && NS="$NS $n"; done
nvidia-smi -L | tee $OUT/env.txt; nvidia-smi topo -m >> $OUT/env.txt 2>&1
timeout 120 $J $FLAGS -jar $S/junit-platform-console-standalone-1.14.1.jar execute --class-path $S/test-classes:$CP \
  --select-class brt4j.gpu.cuda.NcclTest --disable-banner 2>&1 | grep -E "tests (successful|failed)" | tee $OUT/tests.txt
timeout 280 $J $FLAGS -cp $CP brt4j.gpu.DataParallelBench cuda fp32 6 1 Rec:fixed:skip $NS 2>&1 | tee $OUT/match-fp32.txt
timeout 280 $J $FLAGS -cp $CP brt4j.gpu.DataParallelBench cuda bf16 12 1 Rec:fixed:skip $NS 2>&1 | tee $OUT/scaling-bf16.txt
