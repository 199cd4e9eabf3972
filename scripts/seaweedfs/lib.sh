# Shared by scripts/seaweedfs-up and scripts/seaweedfs-down. See docs/archive.md.
# shellcheck shell=bash

# The SeaweedFS version (a Go module version of github.com/seaweedfs/seaweedfs).
SEAWEED_DEFAULT_VERSION="v0.0.0-20261109003541-7506e5f91cd6"
SEAWEED_MODULE="github.com/seaweedfs/seaweedfs"
SEAWEED_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SEAWEED_CACHE="$SEAWEED_REPO/.cache/seaweed"
# The S3 identity of the servers these scripts start (the same as
# internal/s3test's): test credentials, not secrets.
SEAWEED_ACCESS_KEY="sharelog"
SEAWEED_SECRET_KEY="sharelog-test-secret"

seaweed_info() { echo "seaweedfs: $*" >&2; }
seaweed_die() { echo "seaweedfs: error: $*" >&2; exit 1; }

# seaweed_build VERSION: makes sure $SEAWEED_CACHE/weed is weed VERSION,
# building it if needed. `go install` refuses the module (its go.mod has
# replace directives), so: go mod download it, copy the module's source,
# go build ./weed inside the copy. $SEAWEED_CACHE/weed.version records the
# version built. Concurrent callers wait for one build.
seaweed_build() {
  local version="$1" weed="$SEAWEED_CACHE/weed" stamp="$SEAWEED_CACHE/weed.version"
  mkdir -p "$SEAWEED_CACHE"
  # An unstamped binary built by hand from the recipe (dl.json records the
  # version downloaded) is adopted.
  if [ -x "$weed" ] && [ ! -f "$stamp" ] && [ -f "$SEAWEED_CACHE/dl.json" ] &&
    grep -q "\"Version\": \"$version\"" "$SEAWEED_CACHE/dl.json"; then
    echo "$version" >"$stamp"
  fi
  if [ -x "$weed" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  command -v go >/dev/null || seaweed_die "go is needed to build weed"
  command -v flock >/dev/null || seaweed_die "flock (util-linux) is needed"
  exec 9>"$SEAWEED_CACHE/build.lock"
  flock 9
  if [ -x "$weed" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    exec 9>&-
    return 0
  fi
  local start=$SECONDS tmp dir
  seaweed_info "building weed $version into $weed (takes minutes; log $SEAWEED_CACHE/build.log)"
  tmp="$(mktemp -d)"
  # Outside any module, so this repository's go.mod is not touched.
  (cd "$tmp" && go mod download -json "$SEAWEED_MODULE@$version") >"$SEAWEED_CACHE/dl.json" 2>"$SEAWEED_CACHE/dl.err" ||
    { rm -rf "$tmp"; cat "$SEAWEED_CACHE/dl.err" >&2; seaweed_die "go mod download $SEAWEED_MODULE@$version failed"; }
  rm -rf "$tmp"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$SEAWEED_CACHE/dl.json")"
  [ -d "$dir" ] || seaweed_die "no module directory in $SEAWEED_CACHE/dl.json"
  rm -rf "$SEAWEED_CACHE/src"
  cp -R "$dir" "$SEAWEED_CACHE/src"
  chmod -R u+w "$SEAWEED_CACHE/src"
  if ! (cd "$SEAWEED_CACHE/src" && go build -o "$weed.new" ./weed) >"$SEAWEED_CACHE/build.log" 2>&1; then
    tail -30 "$SEAWEED_CACHE/build.log" >&2
    seaweed_die "go build ./weed failed (log $SEAWEED_CACHE/build.log)"
  fi
  mv -f "$weed.new" "$weed"
  echo "$version" >"$stamp"
  seaweed_info "built weed $version in $((SECONDS - start)) s"
  exec 9>&-
}

# seaweed_running_pid DIR: the pid of the weed server of DIR if it is alive.
seaweed_running_pid() {
  local pidfile="$1/weed.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "weed server" || return 1
  echo "$pid"
}
