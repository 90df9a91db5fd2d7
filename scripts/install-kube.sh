#!/usr/bin/env bash
# Build kube-apiserver and kubectl from source for the e2e control plane, with the machine's
# Go toolchain and nothing but the Go module proxy. The Kubernetes release is pinned in
# e2e/kube-build/go.mod (see docs/control-plane-build.md).
#
# Binaries go to ${PALISADE_CACHE:-$HOME/.cache/palisade}/kube/<version>/bin/. Idempotent:
# when that directory already holds both binaries and its stamp file, nothing is built.
# PALISADE_KUBE_BIN_DIR=/dir uses ready-made binaries from /dir instead (no build).
#
# Progress goes to stderr; stdout is only the directory holding the binaries (one line).
# A cold build takes about 5 minutes on 2 cores; later runs reuse the Go build and module
# caches (GOCACHE, GOMODCACHE, both outside the repository).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOD_DIR="$ROOT/e2e/kube-build"
BINARIES=(kube-apiserver kubectl)
# Same as upstream release builds (hack/lib/golang.sh): static, no debug info, trimmed paths.
BUILD_TAGS="selinux,notest,grpcnotrace"

log() { echo "install-kube: $*" >&2; }
die() {
  echo "install-kube: error: $*" >&2
  exit 1
}

have_binaries() { # dir
  local b
  for b in "${BINARIES[@]}"; do
    [[ -f "$1/$b" && -x "$1/$b" ]] || return 1
  done
}

# --- Ready-made binaries -----------------------------------------------------------------
if [[ -n "${PALISADE_KUBE_BIN_DIR:-}" ]]; then
  dir="$PALISADE_KUBE_BIN_DIR"
  [[ -d "$dir" ]] || die "PALISADE_KUBE_BIN_DIR=$dir is not a directory"
  dir="$(cd "$dir" && pwd)"
  have_binaries "$dir" ||
    die "PALISADE_KUBE_BIN_DIR=$dir must contain executable ${BINARIES[*]} (unset it to build them)"
  log "using ready-made binaries from PALISADE_KUBE_BIN_DIR=$dir (no build)"
  echo "$dir"
  exit 0
fi

# --- Pinned version ------------------------------------------------------------------------
[[ -f "$MOD_DIR/go.mod" && -f "$MOD_DIR/go.sum" ]] || die "missing $MOD_DIR/go.mod or go.sum"
KUBE_VERSION="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3; exit }
  $1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$MOD_DIR/go.mod")"
[[ "$KUBE_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] ||
  die "could not read a release version 'require k8s.io/kubernetes v1.N.P' from $MOD_DIR/go.mod (got '${KUBE_VERSION}')"
KUBE_MINOR="${BASH_REMATCH[1]}"
STAGING_VERSION="v0.${KUBE_MINOR}.${BASH_REMATCH[2]}"
# Every staging replacement must be at the matching v0.N.P, or the build mixes releases.
mismatched="$(awk -v want="$STAGING_VERSION" \
  '$2 == "=>" && $1 ~ /^k8s\.io\// && $4 != want { print "  " $0 }' "$MOD_DIR/go.mod")"
[[ -z "$mismatched" ]] ||
  die "$MOD_DIR/go.mod: these replacements are not at $STAGING_VERSION (required by k8s.io/kubernetes $KUBE_VERSION):"$'\n'"$mismatched"

PALISADE_CACHE="${PALISADE_CACHE:-$HOME/.cache/palisade}"
KUBE_DIR="$PALISADE_CACHE/kube/$KUBE_VERSION"
BIN_DIR="$KUBE_DIR/bin"
STAMP="$BIN_DIR/.stamp"

cached() { [[ -f "$STAMP" ]] && have_binaries "$BIN_DIR"; }

if cached; then
  log "using cached Kubernetes $KUBE_VERSION binaries in $BIN_DIR ($(head -n1 "$STAMP"))"
  echo "$BIN_DIR"
  exit 0
fi

# --- Go toolchain --------------------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    die "'go' not found on PATH or in /usr/local/go/bin (Kubernetes $KUBE_VERSION needs the Go version named in $MOD_DIR/go.mod or newer)"
  fi
fi
# Use this machine's toolchain, never a downloaded one; fail clearly if it is too old.
export GOTOOLCHAIN=local
cd "$MOD_DIR"
need_go="$(awk '$1 == "go" { print $2 }' "$MOD_DIR/go.mod")"
have_go="$(go env GOVERSION)"
if [[ "$(printf 'go%s\n%s\n' "$need_go" "$have_go" | sort -V | head -n1)" != "go$need_go" ]]; then
  die "Kubernetes $KUBE_VERSION needs Go >= $need_go, found $have_go ($(command -v go))"
fi

# --- Build (one at a time per cache directory) --------------------------------------------
mkdir -p "$KUBE_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$KUBE_DIR/.lock"
  if ! flock -n 9; then
    log "another install-kube is building $KUBE_VERSION; waiting for it..."
    flock 9
  fi
  if cached; then
    log "using cached Kubernetes $KUBE_VERSION binaries in $BIN_DIR (built by the other run)"
    echo "$BIN_DIR"
    exit 0
  fi
fi

export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

# buildDate: the release's publication time, so rebuilds are reproducible.
BUILD_DATE="$(go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
[[ -n "$BUILD_DATE" ]] || BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
for kv in "gitVersion=$KUBE_VERSION" "gitMajor=1" "gitMinor=$KUBE_MINOR" \
  "gitTreeState=clean" "gitCommit=" "buildDate=$BUILD_DATE"; do
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.$kv"
  done
done

log "building Kubernetes $KUBE_VERSION (${BINARIES[*]}) with $have_go into $BIN_DIR"
log "  GOCACHE=$(go env GOCACHE) GOMODCACHE=$(go env GOMODCACHE)"
log "  a cold build takes about 5 minutes on 2 cores; progress every 30s"
total_start=$SECONDS

log "downloading modules (go mod download)..."
go mod download
log "  modules ready after $((SECONDS - total_start))s"

# Reads `go build -v` output: counts compiled packages, passes anything else (errors) through,
# and reports progress every 30 seconds even while nothing new is printed (e.g. linking).
progress() { # name total_packages start_seconds
  local name=$1 total=$2 start=$3 n=0 last=$SECONDS line rc
  while :; do
    if IFS= read -r -t 5 line; then
      if [[ "$line" =~ ^[A-Za-z0-9_][A-Za-z0-9._~/-]*$ ]]; then
        n=$((n + 1))
      else
        printf '%s\n' "$line" >&2
      fi
    else
      rc=$?
      ((rc > 128)) || break # EOF (a timeout returns > 128)
    fi
    if ((SECONDS - last >= 30)); then
      last=$SECONDS
      log "  $name: $n of up to $total packages compiled, $((SECONDS - start))s"
    fi
  done
  log "  $name: $n packages compiled (the rest came from the build cache)"
}

tmp_dir="$(mktemp -d "$KUBE_DIR/.build.XXXXXX")"
trap 'rm -rf "$tmp_dir"' EXIT

for b in "${BINARIES[@]}"; do
  pkg="k8s.io/kubernetes/cmd/$b"
  start=$SECONDS
  total="$(go list -tags "$BUILD_TAGS" -deps "$pkg" | wc -l)" || die "go list of $pkg failed (output above)"
  log "building $b ($pkg, $total packages)..."
  if ! go build -v -trimpath -tags "$BUILD_TAGS" -ldflags "all=$ldflags" -o "$tmp_dir/$b" "$pkg" 2>&1 |
    progress "$b" "$total" "$start"; then
    die "go build of $pkg failed (output above)"
  fi
  log "built $b in $((SECONDS - start))s"
done

version_out="$("$tmp_dir/kube-apiserver" --version 2>&1 || true)"
[[ "$version_out" == "Kubernetes $KUBE_VERSION" ]] ||
  die "built kube-apiserver reports '$version_out', expected 'Kubernetes $KUBE_VERSION' (version ldflags not applied?)"

mkdir -p "$BIN_DIR"
rm -f "$STAMP"
for b in "${BINARIES[@]}"; do
  mv -f "$tmp_dir/$b" "$BIN_DIR/$b"
done
printf 'k8s.io/kubernetes %s built with %s (%s) on %s in %ss\n' \
  "$KUBE_VERSION" "$have_go" "$BUILD_TAGS" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$((SECONDS - total_start))" >"$STAMP"

log "done in $((SECONDS - total_start))s total"
echo "$BIN_DIR"
