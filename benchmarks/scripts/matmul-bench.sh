#!/usr/bin/env bash
# Our Vector API sgemm (JMH, MatmulBench) against OpenBLAS sgemm through numpy, 1 and 2 threads, interleaved in one
# run and repeated REPS times (default 3); prints medians, ours/OpenBLAS and both as % of the FMA peak (117 / 232
# GFLOP/s on this machine, benchmarking.md). Other work on the machine makes single figures noisy: read the medians.
# The 2-thread OpenBLAS peer is the OpenMP build (LD_LIBRARY_PATH, benchmarking.md); OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset for the numpy command only.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
REPS=${REPS:-3}
OPENMP=/usr/lib/x86_64-linux-gnu/openblas-openmp
OUT=benchmarks/target/matmul-bench
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  mvn -B -ntp -q -pl engine-core,benchmarks -am install -DskipTests
fi
/usr/bin/python3 -c 'import numpy' || { echo "needs numpy: apt-get install -y python3-numpy libopenblas0-openmp"; exit 1; }
mkdir -p "$OUT"
CP="benchmarks/target/classes:benchmarks/target/lib/*"
for rep in $(seq 1 "$REPS"); do
  for t in 1 2; do
    echo "run $rep, $t thread(s)" >&2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
        LD_LIBRARY_PATH=$OPENMP${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        /usr/bin/python3 benchmarks/scripts/matmul-openblas.py > "$OUT/openblas-t$t-r$rep.txt"
    "$JAVA_HOME/bin/java" -cp "$CP" org.openjdk.jmh.Main 'brt4j.bench.MatmulBench' -p threads=$t -jvmArgsAppend '--add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages' \
        -rf csv -rff "$OUT/ours-t$t-r$rep.csv" > "$OUT/ours-t$t-r$rep.log"
  done
done
/usr/bin/python3 benchmarks/scripts/matmul-summary.py "$OUT" "$REPS"
