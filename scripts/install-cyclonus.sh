#!/usr/bin/env bash
# Install the cyclonus NetworkPolicy oracle (used by the differential test) into
# $PALISADE_CACHE/bin (default ~/.cache/palisade/bin). Idempotent: does nothing when the
# pinned version is already there. Needs Go >= 1.22; fetches only through the Go module proxy.
# Prints the binary path on stdout (progress goes to stderr).
set -euo pipefail

CYCLONUS_MODULE="github.com/mattfenwick/cyclonus"
CYCLONUS_VERSION="v0.5.6"

PALISADE_CACHE="${PALISADE_CACHE:-$HOME/.cache/palisade}"
BIN_DIR="$PALISADE_CACHE/bin"
BIN="$BIN_DIR/cyclonus"
# `cyclonus version` prints "development" for `go install` builds, so the version is
# recorded in a stamp file (and, when Go is at hand, read back from the binary's build info).
STAMP="$BIN_DIR/.cyclonus.version"

installed_version() {
  [[ -x "$BIN" ]] || return 1
  if [[ -f "$STAMP" ]]; then
    cat "$STAMP"
    return 0
  fi
  command -v go >/dev/null 2>&1 || return 1
  go version -m "$BIN" 2>/dev/null | awk -v m="$CYCLONUS_MODULE" '$1 == "mod" && $2 == m { print $3 }'
}

if [[ "$(installed_version || true)" == "$CYCLONUS_VERSION" ]]; then
  echo "$CYCLONUS_VERSION" >"$STAMP"
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "install-cyclonus: 'go' not found (need Go >= 1.22)" >&2
    exit 1
  fi
fi

mkdir -p "$BIN_DIR"
echo "install-cyclonus: building $CYCLONUS_MODULE@$CYCLONUS_VERSION with $(go env GOVERSION) into $BIN_DIR (about a minute on a cold module cache)..." >&2
start=$SECONDS
rm -f "$STAMP"
GOBIN="$BIN_DIR" CGO_ENABLED=0 \
  go install "$CYCLONUS_MODULE/cmd/cyclonus@$CYCLONUS_VERSION"
echo "$CYCLONUS_VERSION" >"$STAMP"
echo "install-cyclonus: done in $((SECONDS - start))s" >&2
echo "$BIN"
