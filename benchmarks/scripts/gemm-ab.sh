#!/usr/bin/env bash
# The CPU backend's sgemm, two engines alternated call by call in one JVM (brt4j.bench.GemmAB): the engine at git
# revision BASE (built in a worktree under benchmarks/target, shared with step-ab.sh) against this checkout's
# engine-core/target/classes. Each round runs two JVMs, one per load order (the engine loaded second reads up to 3%
# slower with identical code), and the script prints each shape's new/base ratios and their mean.
#   usage: benchmarks/scripts/gemm-ab.sh BASE [THREADS] [PAIRS] [ROUNDS] [MxKxN ...]
#   (defaults: 1 thread, 40 pairs, 3 rounds, the issue's three shapes)
# Build this checkout first: mvn -o -q install -DskipTests && mvn -o -q -pl benchmarks package -DskipTests
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
BASE=${1:?usage: gemm-ab.sh BASE [THREADS] [PAIRS] [ROUNDS] [MxKxN ...]}
THREADS=${2:-1}; PAIRS=${3:-40}; ROUNDS=${4:-3}
shift $(( $# < 4 ? $# : 4 ))
[ $# -gt 0 ] || set -- 512x512x2048 512x1024x4096 1024x1024x1024
source benchmarks/scripts/base-engine.sh
base_engine "$BASE"
out=$(for r in $(seq 1 "$ROUNDS"); do
  for order in "" --new-first; do
    "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages \
        -cp "benchmarks/target/classes:benchmarks/target/lib/*" brt4j.bench.GemmAB "$base_jar" engine-core/target/classes \
        "$THREADS" "$PAIRS" $order "$@" 2>&1 | grep -v '^WARNING'
  done
done)
echo "$out"
echo "$out" | awk '$4 == "new/base" { r[$1] = r[$1] " " $5; s[$1] += $5; c[$1]++ }
  END { for (k in s) printf "%-16s new/base per run:%s  mean %.3f\n", k, r[k], s[k] / c[k] }'
