#!/usr/bin/env bash
# Sets up everything Palisade needs on Debian (run as root from a fresh clone). Idempotent:
# a second run only checks. Installs: Node.js >= 20 and Go (from apt, only if missing),
# pnpm (pinned in package.json), the workspace dependencies (frozen lockfile), and builds.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  step "apt-get install $*"
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install $* (or install it yourself)" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v git >/dev/null || missing+=(git)
command -v node >/dev/null || missing+=(nodejs npm)
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || missing+=(golang-go)
# The datapath: clang builds the eBPF object, gcc the N-API addon over libbpf; iproute2
# wires network namespaces in tests; iperf3 and iptables are the benchmark's baselines.
for pkg in clang gcc libbpf-dev libelf-dev iproute2 iperf3 iptables; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required, found $(node --version)" >&2
  exit 1
fi

pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  step "pnpm $pnpm_version"
  npm install -g --no-fund --no-audit "pnpm@$pnpm_version" >/dev/null
fi

step "dependencies (pnpm install --frozen-lockfile)"
pnpm install --frozen-lockfile --reporter=silent

step "build (tsc -b, then the eBPF object, the libbpf addon and the test agent)"
pnpm -s build
echo "setup: done"
