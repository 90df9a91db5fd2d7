#!/usr/bin/env bash
# Builds the shim's native parts into dist/: the eBPF object (clang, Debian's libbpf
# headers), the N-API addon over libbpf (against the Node.js headers installed with Node:
# npm's `nodedir`, else the prefix of the running node), and the test probe agent.
# Offline: nothing is downloaded. Skips what is up to date.
set -euo pipefail
cd "$(dirname "$0")"

need() { command -v "$1" >/dev/null || { echo "build-native: '$1' is missing (install: $2)" >&2; exit 1; }; }
need clang clang
need cc gcc
[ -f /usr/include/bpf/libbpf.h ] || { echo "build-native: libbpf headers are missing (install: libbpf-dev)" >&2; exit 1; }

nodedir="${npm_config_nodedir:-}"
[ -n "$nodedir" ] || nodedir=$(npm config get nodedir 2>/dev/null || true)
[ -n "$nodedir" ] && [ "$nodedir" != undefined ] && [ "$nodedir" != null ] || nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")')
napi_inc="$nodedir/include/node"
[ -f "$napi_inc/node_api.h" ] || { echo "build-native: node_api.h not found under $napi_inc (set npm's nodedir to the Node.js headers)" >&2; exit 1; }

mkdir -p dist/bpf dist/native dist/agent
newer() { [ ! -e "$1" ] || [ -n "$(find "${@:2}" -newer "$1" 2>/dev/null)" ]; }

multiarch=$(cc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
if newer dist/bpf/palisade.bpf.o bpf/palisade.bpf.c bpf/palisade.h; then
  echo "build-native: bpf/palisade.bpf.c -> dist/bpf/palisade.bpf.o"
  clang -O2 -g -Wall -Werror -target bpf -I"/usr/include/$multiarch" \
    -c bpf/palisade.bpf.c -o dist/bpf/palisade.bpf.o
fi
if newer dist/native/palisade_bpf.node native/palisade_bpf.c; then
  echo "build-native: native/palisade_bpf.c -> dist/native/palisade_bpf.node (headers: $napi_inc)"
  cc -O2 -g -Wall -Wextra -Werror -fPIC -shared -DNODE_GYP_MODULE_NAME=palisade_bpf \
    -I"$napi_inc" native/palisade_bpf.c -o dist/native/palisade_bpf.node -lbpf
fi
if [ -f agent/build.sh ] && newer dist/agent/palisade-probe-agent agent; then
  echo "build-native: agent -> dist/agent/palisade-probe-agent"
  bash agent/build.sh dist/agent
fi
