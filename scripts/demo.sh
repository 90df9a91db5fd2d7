#!/usr/bin/env bash
# Sets everything up and shows Palisade deciding traffic for a small application.
# The lab cluster (real apiserver, real eBPF) is not built yet: until it is, the demo runs
# the offline simulator, which goes through the same compiler and evaluator.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
palisade() { node packages/cli/dist/main.js "$@"; }

say "1. A shop (frontend, api) and its data (postgres, reports), no policy: everything is open."
palisade policy simulate -f examples/demo/app.yaml

say "2. With a NetworkPolicy (only the api reaches postgres on port \"pg\") and a"
say "   PalisadeNetworkPolicy that denies the storage tier into the shop:"
cat examples/demo/policies/*.yaml | sed 's/^/   | /'
palisade policy simulate -f examples/demo/app.yaml -f examples/demo/policies

say "3. Why? Ask for one flow:"
palisade policy explain -f examples/demo/app.yaml -f examples/demo/policies --from data/reports --to shop/frontend --port 8080/TCP
palisade policy explain -f examples/demo/app.yaml -f examples/demo/policies --from shop/frontend --to data/postgres --port 5432/TCP
palisade policy explain -f examples/demo/app.yaml -f examples/demo/policies --from shop/api --to data/postgres --port 5432/TCP

say "4. On a real cluster:"
palisade lab up || true
cat <<'TXT'

   The lab cluster (etcd + kube-apiserver, eBPF enforcement in network namespaces) lands
   with the next issues. Until then, try your own manifests offline:

     pnpm -s palisade policy simulate -f <your manifests/> --port 80/TCP
     pnpm -s palisade policy explain  -f <your manifests/> --from ns/pod --to ns/pod --port 80/TCP
     pnpm -s palisade policy simulate -f <dir> -o json     # machine-readable
TXT
