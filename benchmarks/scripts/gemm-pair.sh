#!/usr/bin/env bash
# Our sgemm against OpenBLAS's cblas_sgemm in one JVM, alternated call by call (brt4j.bench.GemmPair): the medians of
# both, the median of the pairs' ratios with its quartiles, and the median ratio over the pairs in which OpenBLAS ran
# within 7% of its best ("quiet pairs"). Repeats the whole series REPS times (default 3). PAIRS (default 40) pairs per
# shape and thread count; extra arguments go to GemmPair (e.g. shapes as MxKxN).
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
REPS=${REPS:-3}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  mvn -B -ntp -q -pl engine-core,benchmarks -am install -DskipTests
fi
CP="benchmarks/target/classes:benchmarks/target/lib/*"
for rep in $(seq 1 "$REPS"); do
  echo "== run $rep ($(date +%H:%M))"
  # bin/brt's flags: the Vector API's bounds checks stay on, as in production
  "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages --enable-native-access=ALL-UNNAMED \
      -cp "$CP" brt4j.bench.GemmPair --pairs "${PAIRS:-40}" "$@" 2>&1 | grep -v '^WARNING'
done
