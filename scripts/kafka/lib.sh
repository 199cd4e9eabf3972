# shellcheck shell=bash
# Shared helpers for scripts/kafka-up, kafka-down, kafka-topics,
# kafka-consumer-groups. Source it; do not run it.
#
# Jars come from Maven Central through scripts/kafka/pom.xml and are cached in
# $KAFKA_CACHE/<version>/lib (default <repo>/.cache/kafka). Once a lib dir is
# complete (stamp file matches the pom), mvn is not run again.

KAFKA_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_REPO_ROOT="$(cd "$KAFKA_SCRIPTS_DIR/../.." && pwd)"
KAFKA_CACHE="${KAFKA_CACHE:-$KAFKA_REPO_ROOT/.cache/kafka}"

# Newest releases tested with these scripts (keep in sync with pom.xml and docs/kafka.md).
KAFKA_DEFAULT_VERSION="4.1.2"
KAFKA_LATEST_3_9="3.9.2"
KAFKA_LATEST_4_1="4.1.2"

kafka_die() {
  echo "kafka: error: $*" >&2
  exit 1
}

kafka_info() {
  echo "kafka: $*" >&2
}

# kafka_normalize_version V: accepts 4.1.2, 4.1, 4.1.x, 3.9, 3.9.x.
kafka_normalize_version() {
  local v="$1"
  case "$v" in
    3.9 | 3.9.x) v="$KAFKA_LATEST_3_9" ;;
    4.1 | 4.1.x) v="$KAFKA_LATEST_4_1" ;;
  esac
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    kafka_die "bad Kafka version '$1' (want e.g. 4.1.2, 3.9.2, 4.1 or 3.9)"
  echo "$v"
}

kafka_major() {
  echo "${1%%.*}"
}

# kafka 4.x logs through log4j2, 3.x through reload4j (log4j 1.2 API).
kafka_logging() {
  if [ "$(kafka_major "$1")" -ge 4 ]; then echo log4j2; else echo reload4j; fi
}

kafka_java() {
  local java="${JAVA:-}"
  if [ -z "$java" ]; then
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
      java="$JAVA_HOME/bin/java"
    else
      java="$(command -v java || true)"
    fi
  fi
  [ -n "$java" ] || kafka_die "java not found (need Java 17+; set JAVA or JAVA_HOME)"
  local major
  major="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -1)"
  major="${major#1.}"
  [[ "$major" =~ ^[0-9]+$ ]] || kafka_die "cannot tell the version of $java"
  [ "$major" -ge 17 ] || kafka_die "$java is Java $major; Kafka 4.x brokers need Java 17+ (set JAVA or JAVA_HOME)"
  echo "$java"
}

# kafka_resolve VERSION: makes sure $KAFKA_CACHE/VERSION/lib holds the jars,
# echoes the lib dir. Safe to call concurrently (flock).
kafka_resolve() {
  local version="$1"
  local base="$KAFKA_CACHE/$version"
  local lib="$base/lib"
  local logging stamp
  logging="$(kafka_logging "$version")"
  stamp="$version $logging $(sha256sum "$KAFKA_SCRIPTS_DIR/pom.xml" | cut -c1-16)"
  if [ -f "$lib/.complete" ] && [ "$(cat "$lib/.complete")" = "$stamp" ]; then
    echo "$lib"
    return 0
  fi
  command -v mvn >/dev/null || kafka_die "mvn not found: needed once to download Kafka $version jars (apt-get install maven)"
  mkdir -p "$base"
  (
    flock 9
    if [ -f "$lib/.complete" ] && [ "$(cat "$lib/.complete")" = "$stamp" ]; then
      exit 0
    fi
    local tmp="$base/lib.tmp.$$"
    rm -rf "$tmp"
    kafka_info "resolving Apache Kafka $version jars from Maven Central (log: $base/mvn.log)"
    local t0=$SECONDS
    if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_SCRIPTS_DIR/pom.xml" \
      -Dkafka.version="$version" -Dkafka.logging="$logging" \
      dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$base/mvn.log" 2>&1; then
      tail -n 30 "$base/mvn.log" >&2
      rm -rf "$tmp"
      kafka_die "mvn could not resolve org.apache.kafka:kafka_2.13:$version (does that version exist on Maven Central?)"
    fi
    ls "$tmp"/kafka_2.13-"$version".jar >/dev/null 2>&1 || kafka_die "kafka_2.13-$version.jar missing after mvn (see $base/mvn.log)"
    echo "$stamp" >"$tmp/.complete"
    rm -rf "$lib"
    mv "$tmp" "$lib"
    kafka_info "jars ready in $lib ($(du -sh "$lib" | cut -f1), $((SECONDS - t0)) s)"
  ) 9>"$base/.lock" || exit 1
  echo "$lib"
}

# kafka_log_opts VERSION broker|tools: java -D options selecting the log config.
kafka_log_opts() {
  local version="$1" kind="$2" prefix=""
  [ "$kind" = tools ] && prefix="tools-"
  if [ "$(kafka_logging "$version")" = log4j2 ]; then
    echo "-Dlog4j2.configurationFile=$KAFKA_SCRIPTS_DIR/${prefix}log4j2.properties"
  else
    echo "-Dlog4j.configuration=file:$KAFKA_SCRIPTS_DIR/${prefix}log4j.properties"
  fi
}

# kafka_tool CLASS ARGS...: runs an admin tool class with the jars of
# $KAFKA_VERSION (default KAFKA_DEFAULT_VERSION); adds --bootstrap-server
# 127.0.0.1:$KAFKA_PORT (default 19092) unless given.
kafka_tool() {
  local class="$1"
  shift
  local version lib java
  version="$(kafka_normalize_version "${KAFKA_VERSION:-$KAFKA_DEFAULT_VERSION}")"
  lib="$(kafka_resolve "$version")"
  java="$(kafka_java)"
  local has_bootstrap=0 a
  for a in "$@"; do
    case "$a" in
      --bootstrap-server | --bootstrap-server=* | --bootstrap-controller | --bootstrap-controller=* | -h | --help | --version) has_bootstrap=1 ;;
    esac
  done
  local extra=()
  if [ "$has_bootstrap" = 0 ]; then
    extra=(--bootstrap-server "127.0.0.1:${KAFKA_PORT:-19092}")
  fi
  # shellcheck disable=SC2046
  exec "$java" -Xms32m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    $(kafka_log_opts "$version" tools) -cp "$lib/*" "$class" "$@" "${extra[@]}"
}
