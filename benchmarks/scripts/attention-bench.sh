#!/usr/bin/env bash
# Fused sliding-window attention (W=512, H=8, D=64, two blocks), forward and backward, 1 and 2 threads, in GFLOP/s
# of useful work (forward 4 W^2 D per head and block, backward 8 W^2 D), next to the matmul medians of
# matmul-bench.sh. Build first (matmul-bench.sh does) or set SKIP_BUILD=0.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
REPS=${REPS:-3}
OUT=benchmarks/target/attention-bench
if [ "${SKIP_BUILD:-1}" != 1 ]; then mvn -B -ntp -q -pl engine-core,benchmarks -am install -DskipTests; fi
mkdir -p "$OUT"
for rep in $(seq 1 "$REPS"); do
  "$JAVA_HOME/bin/java" -cp "benchmarks/target/classes:benchmarks/target/lib/*" org.openjdk.jmh.Main 'brt4j.bench.AttentionBench' \
      -rf csv -rff "$OUT/r$rep.csv" > "$OUT/r$rep.log"
done
/usr/bin/python3 - "$OUT" "$REPS" <<'PY'
import csv, os, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
fwd = 4.0 * 512 * 512 * 64 * 8 * 2
res = {}
for r in range(1, reps + 1):
    for row in csv.DictReader(open(os.path.join(out, f"r{r}.csv"))):
        op = row["Benchmark"].rsplit(".", 1)[1]
        flops = fwd if op == "forward" else 2 * fwd
        res.setdefault((op, int(row["Param: threads"])), []).append(flops / (float(row["Score"]) * 1e-3) / 1e9)
for (op, t), g in sorted(res.items(), key=lambda x: (x[0][1], x[0][0])):
    print(f"attention {op:<8} {t} thread(s): median {statistics.median(g):6.1f} GFLOP/s   runs " + " ".join(f"{x:.1f}" for x in g))
PY
