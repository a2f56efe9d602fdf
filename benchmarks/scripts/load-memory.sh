#!/usr/bin/env bash
# The heap a checkpoint load needs (issue 6): for each config, writes a random model's checkpoint (float32), then
# finds the smallest -Xmx (MiB) under which each way of loading it still succeeds, by bisection.
# Usage: benchmarks/scripts/load-memory.sh [CONFIG.json ...] (default configs/laptop.json). SKIP_BUILD=1 skips mvn.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bin/find-jdk.sh
[ "${SKIP_BUILD:-0}" = 1 ] || mvn -B -q -ntp -DskipTests -pl benchmarks -am install
CP="benchmarks/target/brt4j-benchmarks-0.1.0-SNAPSHOT.jar:benchmarks/target/lib/*"
JAVA=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseSerialGC)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for cfg in "${@:-configs/laptop.json}"; do
  "${JAVA[@]}" -Xmx4g -cp "$CP" brt4j.bench.generate.LoadMemory write "$cfg" "$tmp/ckpt" 2>&1 | grep -v WARNING || true
  echo "== $(basename "$cfg"): checkpoint $(du -m "$tmp/ckpt/model.safetensors" | cut -f1) MiB"
  for mode in float32-all-arrays float32 int8-after-float32 int8; do
    lo=4; hi=4096   # lo fails (assumed), hi loads
    while [ $((hi - lo)) -gt 1 ]; do
      mid=$(((lo + hi) / 2))
      if "${JAVA[@]}" -Xms${mid}m -Xmx${mid}m -cp "$CP" brt4j.bench.generate.LoadMemory load "$tmp/ckpt" "$mode" >/dev/null 2>&1; then hi=$mid; else lo=$mid; fi
    done
    line=$("${JAVA[@]}" -Xmx4g -cp "$CP" brt4j.bench.generate.LoadMemory load "$tmp/ckpt" "$mode" 2>&1 | grep -v WARNING)
    echo "$line; smallest -Xmx that loads: ${hi} MiB"
  done
  rm -rf "$tmp/ckpt"
done
