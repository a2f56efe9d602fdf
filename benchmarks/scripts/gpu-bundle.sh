#!/usr/bin/env bash
# Packs what the H200 run needs into .device/jre.tar.xz (a jlink'd JDK 25 runtime) and .device/bundle.tar.xz (the
# jars, engine-gpu's test classes, the JUnit console launcher and the golden fixtures. Build first:
#   (M2_REPO: the local Maven repository that holds the JUnit console launcher; default ~/.m2/repository)
#   mvn -B -ntp -DskipTests install && mvn -B -ntp -pl engine-gpu test-compile && mvn -B -ntp -pl cli package -DskipTests
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
stage=.device/stage
rm -rf "$stage" && mkdir -p "$stage/lib"
if [ ! -f .device/jre.tar.xz ]; then                 # the runtime: built once, packed apart from the app
  rm -rf .device/jre-stage && mkdir -p .device/jre-stage
  "$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.incubator.vector,jdk.unsupported,java.logging,jdk.jfr --compress=zip-9 \
    --strip-debug --no-header-files --no-man-pages --output .device/jre-stage/jre
  tar -C .device/jre-stage -cJf .device/jre.tar.xz jre
fi
cp cli/target/brt4j-cli-0.1.0-SNAPSHOT.jar cli/target/lib/*.jar "$stage/lib/"
cp "${M2_REPO:-$HOME/.m2/repository}"/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar "$stage/"
cp -r engine-gpu/target/test-classes "$stage/test-classes"
mkdir -p "$stage/shared/fixtures" && cp -r ../shared/fixtures/brt "$stage/shared/fixtures/"
tar -C .device -cJf .device/bundle.tar.xz stage
du -h .device/bundle.tar.xz .device/jre.tar.xz
