#!/usr/bin/env bash
# Whole training steps of two engines alternated in one JVM (StepAB): the engine at git revision BASE (built in a
# worktree under benchmarks/target) against this checkout's engine-core/target/classes. The way to judge a change
# to the CPU backend on a noisy host, where separate runs of train-bench.sh swing 20-35%.
#   usage: benchmarks/scripts/step-ab.sh BASE [THREADS] [PAIRS] [dropout]     (defaults: 1 thread, 30 pairs)
# Build this checkout first: mvn -o -q install -DskipTests && mvn -o -q -pl benchmarks package -DskipTests
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
BASE=${1:?usage: step-ab.sh BASE [THREADS] [PAIRS] [dropout]}
THREADS=${2:-1}; PAIRS=${3:-30}; DROPOUT=${4:-}
source benchmarks/scripts/base-engine.sh
base_engine "$BASE"
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages -Xmx8g \
    -cp "benchmarks/target/classes" brt4j.bench.train.StepAB \
    "$base_jar" engine-core/target/classes \
    configs/laptop.json "$THREADS" "$PAIRS" $DROPOUT 2>&1 | grep -v '^WARNING'
