# Sourced by the same-JVM A/B scripts (step-ab.sh, gemm-ab.sh), from the repository root: base_engine REV builds
# engine-core at git revision REV in a worktree under benchmarks/target (once per revision; remove it after use with
# git worktree remove --force benchmarks/target/step-ab-REV) and sets base_jar to its jar.
base_engine() {
  local rev wt
  rev=$(git rev-parse --short "$1")
  wt=benchmarks/target/step-ab-$rev
  if [ ! -f "$wt/engine-core/target/brt4j-engine-core-0.1.0-SNAPSHOT.jar" ]; then
    rm -rf "$wt"; git worktree prune
    git worktree add -q --detach "$wt" "$rev"
    (cd "$wt" && mvn -B -q -ntp -o -pl engine-core package -DskipTests)
  fi
  base_jar="$wt/engine-core/target/brt4j-engine-core-0.1.0-SNAPSHOT.jar"
}
