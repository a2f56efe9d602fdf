# Sourced by bin/brt, bin/test and .ci/run: points JAVA_HOME at a JDK 25 or later, or stops with a clear message.
# Order: a JAVA_HOME that already is 25+, then `java` on the PATH, then the usual install folders.
brt_java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
brt_find_jdk() {
  local c
  for c in "${JAVA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")" \
           /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25* /usr/lib/jvm/jdk-2[5-9]* /opt/java/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] || continue
    local v; v=$(brt_java_major "$c")
    if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then export JAVA_HOME="$c"; return 0; fi
  done
  echo "brt4j needs a JDK 25 or later (the Vector API and java.lang.foreign): none found in JAVA_HOME, on the PATH or under /usr/lib/jvm." >&2
  echo "Install one (for example Temurin 25 from adoptium.net, or 'sdk install java 25-tem') and set JAVA_HOME to it." >&2
  return 1
}
brt_find_jdk || exit 1
