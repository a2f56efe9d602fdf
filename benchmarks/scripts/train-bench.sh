#!/usr/bin/env bash
# Training throughput (tokens/s of forward + backward + AdamW) of a config (default: configs/laptop.json) on the CPU
# backend, beside the same model transcribed in PyTorch CPU (train_bench_torch.py, Debian's python3-torch), run
# interleaved in one run, 1 and 2 threads, REPS repetitions; prints the medians and the ratio brt4j / PyTorch.
# Both sides time STEPS steps after WARMUP (default 20) untimed ones: C2 needs 10-20 steps to compile the kernels
# into their steady state (3 warm-up steps read ~20% low); PyTorch's figure is the same after 3 or 20. JVM flags and
# the peer's environment: train-env.sh. tokens/s is the timed steps' tokens over their total time on both sides (GC
# pauses count). Build first or set SKIP_BUILD=0.
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-8}
source benchmarks/scripts/train-env.sh
OUT=benchmarks/target/train-bench
mkdir -p "$OUT"; : > "$OUT/results.jsonl"
for rep in $(seq 1 "$REPS"); do
  for t in $THREADS; do
    "${brt_java[@]}" brt4j.bench.train.TrainThroughput \
        "$CONFIG" "$t" "$STEPS" "$WARMUP" "$BATCH" 2>/dev/null | tail -1 >> "$OUT/results.jsonl"
    with_torch_env "$t" \
        /usr/bin/python3 benchmarks/scripts/train_bench_torch.py "$CONFIG" "$t" "$STEPS" "$WARMUP" "$BATCH" >> "$OUT/results.jsonl"
  done
done
/usr/bin/python3 - "$OUT/results.jsonl" "$CONFIG" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
res = {}
for r in rows:
    res.setdefault((r["threads"], r["peer"].split()[0]), []).append(r["tokens_per_s"])
print(f"training throughput, {sys.argv[2]}, tokens/s (median of {len(next(iter(res.values())))} runs)")
for t in sorted({k[0] for k in res}):
    b, p = statistics.median(res[(t, "brt4j")]), statistics.median(res[(t, "pytorch")])
    print(f"{t} thread(s): brt4j {b:8.0f}   pytorch {p:8.0f}   ratio {b / p:5.2f}x   runs brt4j "
          + " ".join(f"{x:.0f}" for x in res[(t, 'brt4j')]) + " / pytorch " + " ".join(f"{x:.0f}" for x in res[(t, 'pytorch')]))
PY
