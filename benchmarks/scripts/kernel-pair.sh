#!/usr/bin/env bash
# Our sgemm microkernel against the one OpenBLAS exports for this CPU (sgemm_kernel_ZEN), in cache, alternated in one
# JVM (brt4j.backend.cpu.KernelPair): the kernel apart from packing and writing c, which gemm-pair.sh measures with it.
#   usage: benchmarks/scripts/kernel-pair.sh [--lib PATH] [--kernel SYMBOL] [kc ...]   (default kc 512 1024)
# Repeats REPS times (default 3). Build first: mvn -o -q install -DskipTests && mvn -o -q -pl benchmarks package -DskipTests
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
for rep in $(seq 1 "${REPS:-3}"); do
  echo "== run $rep ($(date +%H:%M))"
  "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages \
      --enable-native-access=ALL-UNNAMED -cp "benchmarks/target/classes:benchmarks/target/lib/*" \
      brt4j.backend.cpu.KernelPair "$@" 2>&1 | grep -v '^WARNING'
done
