#!/usr/bin/env bash
# Whole training steps of two engines alternated in one JVM (StepAB): the engine at git revision BASE (built in a
# worktree under benchmarks/target) against this checkout's engine-core/target/classes. The way to judge a change
# to the CPU backend on a noisy host, where separate runs of train-bench.sh swing 20-35%. Each round runs two JVMs,
# one per load order (the engine loaded first reads a few percent faster with identical code, and one run can catch
# one side in a bad spell), and the script prints every run's ratio and their mean.
#   usage: benchmarks/scripts/step-ab.sh BASE [THREADS] [PAIRS] [dropout]     (defaults: 1 thread, 30 pairs)
#   ROUNDS (default 1) rounds of both orders. On two threads or more each engine's pool workers park at once
#   (SPIN=0, -Dbrt.cpu.spinMicros=0; SPIN=2000 is production's): steps run back to back, and the idle engine's
#   workers spinning 2 ms into the other's step took its cores. With them spinning, identical engines read 0.840
#   and 1.236 in the two orders; parked, 1.011 and 1.020 (benchmarks/results/training.md, session 15).
# Build this checkout first: mvn -o -q install -DskipTests && mvn -o -q -pl benchmarks package -DskipTests
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
BASE=${1:?usage: step-ab.sh BASE [THREADS] [PAIRS] [dropout]}
THREADS=${2:-1}; PAIRS=${3:-30}; DROPOUT=${4:-}
[ "$THREADS" -gt 1 ] && SPIN=${SPIN-0}
source benchmarks/scripts/base-engine.sh
base_engine "$BASE"
out=$(for r in $(seq 1 "${ROUNDS:-1}"); do
  for order in "" --new-first; do
    "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages -Xmx8g \
        ${SPIN:+-Dbrt.cpu.spinMicros=$SPIN} -cp "benchmarks/target/classes" brt4j.bench.train.StepAB \
        "$base_jar" engine-core/target/classes \
        configs/laptop.json "$THREADS" "$PAIRS" $DROPOUT $order 2>&1 | grep -v '^WARNING'
  done
done)
echo "$out"
echo "$out" | awk '/^speed new \/ base/ { r = r " " $10; s += $10; c++ }
  END { if (c) printf "new/base per run:%s  mean %.3f\n", r, s / c }'
