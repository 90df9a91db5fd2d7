#!/usr/bin/env bash
# Sets up everything Palisade needs on Debian (run as root from a fresh clone). Idempotent:
# a second run only checks. Installs: Node.js >= 20 and Go (from apt, only if missing),
# pnpm (pinned in package.json), the workspace dependencies (frozen lockfile), and builds.
# Then builds (once; cached in ~/.cache/palisade) kube-apiserver and kubectl from source for
# the e2e control plane, which also needs etcd, openssl and (for the Redis identity store)
# redis-server from apt.
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
# The e2e control plane: etcd (Debian's etcd-server), openssl for its certificates, Redis
# for the optional identity store.
for pkg in clang gcc libbpf-dev libelf-dev iproute2 iperf3 iptables etcd-server redis-server openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
# Debian starts etcd and Redis as system services on install; the tests and the lab run
# their own on free ports, so a service this script just installed is stopped and disabled.
for pkg_svc in etcd-server:etcd redis-server:redis-server; do
  pkg=${pkg_svc%%:*} svc=${pkg_svc#*:}
  case " ${missing[*]-} " in *" $pkg "*) ;; *) continue ;; esac
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done

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

step "kube-apiserver and kubectl (built from source once, then cached; see docs/control-plane-build.md)"
# Progress goes to stderr; stdout is only the binary directory.
bash scripts/install-kube.sh >/dev/null
echo "setup: done"
