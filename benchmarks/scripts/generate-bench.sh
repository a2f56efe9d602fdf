#!/usr/bin/env bash
# Generation speed (issue 6): brt4j (float32 and int8) beside a PyTorch CPU peer, same configs, same machine, one
# run per config, threads 1 and all cores. Usage: benchmarks/scripts/generate-bench.sh [PROMPT=2048] [GEN=256] [REPS=3] [WARMUP=5]
# Needs Debian's python3-torch (apt-get install -y python3-torch). SKIP_BUILD=1 skips the Maven build (SKIP_BUILD=0 or
# unset builds: mvn install of all modules, tests skipped, into $MAVEN_OPTS's repository if it names one).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bin/find-jdk.sh
PROMPT=${PROMPT:-2048}; GEN=${GEN:-256}; REPS=${REPS:-3}
# Untimed runs before the REPS timed ones, on both sides: C2 needs a few prompts to settle (one warm-up run read the
# laptop prompt at 4876 tokens/s on two threads, five at 8062).
WARMUP=${WARMUP:-5}
[ "${SKIP_BUILD:-0}" = 1 ] || mvn -B -q -ntp -DskipTests install
CP="benchmarks/target/brt4j-benchmarks-0.1.0-SNAPSHOT.jar:benchmarks/target/lib/*"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# small_37M with the paper's recurrent layer (-3) and fixed:skip, from the paper config.
/usr/bin/python3 - "$tmp/small_37m_rec.json" <<'PY'
import json, sys
c = json.load(open("configs/paper/small_37m.json")); c["recurrent_layers"] = [c["n_layers"] - 3]
c["gate"], c["state_ffn"], c["feedback"] = "fixed", "skip", False
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
for cfg in configs/laptop.json "$tmp/small_37m_rec.json"; do
  for t in 1 $(nproc); do
    echo "== $(basename "$cfg"), $t thread(s)"
    "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages -Xmx8g -cp "$CP" \
      brt4j.bench.generate.GenerationThroughput config="$cfg" prompt="$PROMPT" generate="$GEN" reps="$REPS" warmup="$WARMUP" threads="$t" 2>&1 | grep -v WARNING
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t \
      /usr/bin/python3 benchmarks/scripts/generate_bench_torch.py "$cfg" "$t" "$PROMPT" "$GEN" "$REPS" "$WARMUP"
  done
done
