#!/usr/bin/env bash
# Packs what the NCCL run on the device needs: .device/bundle.tar.xz (cli jars, engine-gpu test classes, the JUnit
# console launcher); the runtime .device/jre.tar.xz comes from gpu-bundle.sh. Build first (private Maven repo):
#   mvn -B -ntp -DskipTests install && mvn -B -ntp -pl engine-gpu test-compile && mvn -B -ntp -pl cli package -DskipTests
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
repo="${MAVEN_REPO:-$HOME/.m2/repository}"
stage=.device/stage
rm -rf "$stage" && mkdir -p "$stage/lib"
[ -f .device/jre.tar.xz ] || { echo "no .device/jre.tar.xz: run benchmarks/scripts/gpu-bundle.sh once" >&2; exit 1; }
cp cli/target/brt4j-cli-0.1.0-SNAPSHOT.jar cli/target/lib/*.jar "$stage/lib/"
cp "$repo"/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar "$stage/"
cp -r engine-gpu/target/test-classes "$stage/test-classes"
tar -C .device -cJf .device/bundle.tar.xz stage
du -h .device/bundle.tar.xz .device/jre.tar.xz
