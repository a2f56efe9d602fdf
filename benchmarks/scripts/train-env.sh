# Sourced by train-bench.sh and train-pair.sh, from the repository root, so that both run the same model, data and
# flags. Sets the defaults (CONFIG, REPS, WARMUP, BATCH, THREADS; STEPS is each script's own), builds when
# SKIP_BUILD=0, and defines
#   brt_java  the JVM command up to the class: bin/brt's flags (ParallelGC; the Vector API's bounds checks on:
#             turning them off made some kernels slower), plus BRT_JAVA_OPTS as bin/brt reads it;
#   with_torch_env THREADS CMD...: runs CMD in the PyTorch peer's environment for that thread count. Two-thread
#             PyTorch uses OpenBLAS's OpenMP build where installed (benchmarking.md: the pthreads build fights
#             torch's threads); TORCH_LD overrides it.
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
CONFIG=${CONFIG:-configs/laptop.json}
REPS=${REPS:-3}; WARMUP=${WARMUP:-20}; BATCH=${BATCH:-1}; THREADS=${THREADS:-"1 2"}
if [ "${SKIP_BUILD:-1}" != 1 ]; then mvn -B -ntp -q -pl engine-core,benchmarks -am install -DskipTests; fi
brt_java=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -XX:+UseTransparentHugePages ${BRT_JAVA_OPTS:-}
          -cp "benchmarks/target/classes:benchmarks/target/lib/*")
train_omp=$(ls -d /usr/lib/x86_64-linux-gnu/openblas-openmp 2>/dev/null || true)

with_torch_env() {
  local t=$1 ld=""
  shift
  if [ "$t" -gt 1 ] && [ -n "$train_omp" ]; then ld="$train_omp"; fi
  LD_LIBRARY_PATH="${TORCH_LD:-$ld}" OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$@"
}
