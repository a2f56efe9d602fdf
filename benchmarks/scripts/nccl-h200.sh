#!/usr/bin/env bash
# The NCCL run on the one-GPU device (no Java there). Unpacks $DEV/bundle.tar.xz (nccl-bundle.sh) and
# .device/jre.tar.xz (gpu-bundle.sh), then
#   1. where libnccl.so.2 is, 2. the NCCL JUnit tests (world of one; two ranks on one GPU in their own JVM),
#   3. brt train on a tiny config: plain twice (the control) and --gpus 1 (a world of one through NCCL), the same
#      losses expected; then --gpus 1 stopped at step 10 and resumed to 20,
#   4. laptop-bytes config, 40 steps: plain vs --gpus 1 tokens/s (the cost of the NCCL path in a world of one).
# Prints a summary; every log goes into $OUT/nccl-logs.tgz.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/brt-out}; mkdir -p "$OUT"
W=/tmp/nccl-work; rm -rf $W; mkdir -p $W
source benchmarks/scripts/device-env.sh
export NCCL_DEBUG=WARN NCCL_NVLS_ENABLE=0
{ nvidia-smi -L; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; echo "libnccl:"; timeout 30 find / -xdev -name 'libnccl.so*' 2>/dev/null | head; } | tee $W/env.txt
JU="$J $FLAGS -jar $S/junit-platform-console-standalone-1.14.1.jar execute --class-path $S/test-classes:$CP --details=tree --disable-banner"
timeout 120 $JU --select-class brt4j.gpu.cuda.NcclTest > $W/tests.txt 2>&1; echo "exit $?" >> $W/tests.txt
timeout 90 $JU --select-class brt4j.gpu.cuda.NcclTwoRanksOneGpuTest > $W/two-ranks.txt 2>&1; echo "exit $?" >> $W/two-ranks.txt
grep -hE "NCCL error path|two ranks on one GPU|tests (successful|failed|skipped|aborted)|^exit|✘|Exception|expected" $W/tests.txt $W/two-ranks.txt | head -30
DATA=engine-core/src/main/java
T="timeout 150 $J $FLAGS -cp $CP brt4j.cli.Brt train --config configs/tiny-bytes.json --data $DATA --cache-dir $W/cache --device cuda --precision fp32 --batch 4 --accumulate 2 --schedule constant --warmup 5 --lr 3e-3 --log-every 1 --eval-every 0 --validation 0.02 --seed 3"
$T --steps 20 --out $W/plain-a > $W/train-plain-a.txt 2>&1; echo "exit $?" >> $W/train-plain-a.txt
$T --steps 20 --out $W/plain-b > $W/train-plain-b.txt 2>&1; echo "exit $?" >> $W/train-plain-b.txt
$T --steps 20 --out $W/gpus1 --gpus 1 > $W/train-gpus1.txt 2>&1; echo "exit $?" >> $W/train-gpus1.txt
$T --steps 10 --out $W/resumed --gpus 1 > $W/train-resumed.txt 2>&1
$T --steps 20 --out $W/resumed --gpus 1 --resume >> $W/train-resumed.txt 2>&1; echo "exit $?" >> $W/train-resumed.txt
grep -HE "^exit|data parallel|global batch|brt:|Exception" $W/train-*.txt | cut -c1-400
python3 - $W <<'PY' | tee $W/compare.txt
import json, sys
w = sys.argv[1]
def losses(run):
    try:
        return [(l["step"], l["loss"], l["grad_norm"]) for l in map(json.loads, open(f"{w}/{run}/metrics.jsonl")) if l["split"] == "train"]
    except Exception as e:
        return str(e)
a, b, g, r = (losses(x) for x in ("plain-a", "plain-b", "gpus1", "resumed"))
print("plain-a losses:", a if isinstance(a, str) else [round(x[1], 6) for x in a])
print("plain run twice identical:", a == b)
print("--gpus 1 == plain (loss and grad norm, every step, exact):", a == g)
print("--gpus 1 stopped at 10 and resumed == uninterrupted --gpus 1:", g == r)
if not isinstance(a, str) and not isinstance(g, str) and len(a) == len(g):
    print("max |loss difference| plain vs --gpus 1:", max(abs(x[1] - y[1]) for x, y in zip(a, g)))
PY
L="timeout 150 $J $FLAGS -cp $CP brt4j.cli.Brt train --config configs/laptop-bytes.json --data $DATA --cache-dir $W/cache --device cuda --precision tf32 --batch 8 --steps 40 --log-every 10 --eval-every 0 --validation 0.02"
$L --out $W/speed-plain > $W/speed-plain.txt 2>&1; echo "exit $?" >> $W/speed-plain.txt
$L --out $W/speed-gpus1 --gpus 1 > $W/speed-gpus1.txt 2>&1; echo "exit $?" >> $W/speed-gpus1.txt
for r in speed-plain speed-gpus1; do echo "$r: $(tail -1 $W/$r.txt) $(grep '"split":"train"' $W/$r/metrics.jsonl 2>/dev/null | tail -2 | tr '\n' ' ')"; done | tee $W/speed.txt
rm -rf $W/cache $W/*/checkpoint* $W/*/loss.png
tar -czf $OUT/nccl-logs.tgz -C /tmp nccl-work
