#!/bin/sh
# Builds the probe agent used by the privileged datapath tests.
# Usage: build.sh <outdir>   ->   <outdir>/palisade-probe-agent
set -eu
if [ "$#" -ne 1 ]; then
  echo "usage: $0 <outdir>" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
"${CC:-gcc}" -O2 -Wall -Wextra -std=gnu11 -pthread \
  -o "$out/palisade-probe-agent.tmp" "$here/probe_agent.c"
mv -f "$out/palisade-probe-agent.tmp" "$out/palisade-probe-agent"
