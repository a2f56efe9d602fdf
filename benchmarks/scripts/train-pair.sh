#!/usr/bin/env bash
# Training throughput of brt4j and the PyTorch peer in lockstep (train_pair.py): the two processes take steps in
# turn, ABBA, so each pair of steps sees the same host; prints the median of the pairs' speed ratios (PyTorch's step
# time over ours) with quartiles, per thread count, REPS times (default 3). STEPS paired steps (default 40) after
# WARMUP (default 20, both sides, also in turn). Same model, data, flags and peer environment as train-bench.sh
# (train-env.sh; BRT_JAVA_OPTS adds JVM options on our side, as bin/brt reads them).
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-40}
source benchmarks/scripts/train-env.sh
OUT=benchmarks/target/train-pair
mkdir -p "$OUT"; : > "$OUT/results.jsonl"
segment=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['segment'])" "$CONFIG")
for rep in $(seq 1 "$REPS"); do
  for t in $THREADS; do
    with_torch_env "$t" \
      /usr/bin/python3 benchmarks/scripts/train_pair.py "$STEPS" "$WARMUP" $((segment * BATCH)) -- \
        "${brt_java[@]}" -Dlockstep=true brt4j.bench.train.TrainThroughput \
          "$CONFIG" "$t" "$STEPS" "$WARMUP" "$BATCH" -- \
        /usr/bin/python3 benchmarks/scripts/train_bench_torch.py "$CONFIG" "$t" "$STEPS" "$WARMUP" "$BATCH" lockstep \
      | tee -a "$OUT/results.jsonl"
  done
done
/usr/bin/python3 - "$OUT/results.jsonl" "$CONFIG" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"training in lockstep, {sys.argv[2]}: median pair ratio (PyTorch step / brt4j step), per run and pooled")
for t in sorted({r["threads"] for r in rows}):
    rs = [r for r in rows if r["threads"] == t]
    print(f"{t} thread(s): runs " + " ".join(f"{r['ratio_median']:.2f}x ({r['ratio_q1']:.2f}-{r['ratio_q3']:.2f})" for r in rs)
          + "; quiet pairs " + " ".join(f"{r['quiet_ratio_median']:.2f}x of {r['quiet_pairs']}" for r in rs)
          + f"; median of runs {statistics.median(r['ratio_median'] for r in rs):.2f}x; median steps brt4j "
          + " ".join(f"{r['brt4j_step_median'] * 1000:.0f}" for r in rs) + " ms, pytorch "
          + " ".join(f"{r['pytorch_step_median'] * 1000:.0f}" for r in rs) + " ms")
PY
