#!/usr/bin/env bash
# Sets everything up (apt packages, pnpm, the build, kube-apiserver and kubectl built from
# source once) and shows Palisade enforcing policy in the kernel on a real cluster control
# plane: a lab with 2 nodes (network namespaces with eBPF), a small application, its
# reachability probed for real before and after `kubectl apply` of a NetworkPolicy and a
# PalisadeNetworkPolicy with a deny rule, and the datapath's flow events naming the rule
# that dropped each packet. The lab stays up at the end; the last lines say how to go on.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="$(bash scripts/install-kube.sh 2>/dev/null):$PATH"
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
palisade() { node packages/cli/dist/main.js "$@"; }

say "1. A lab cluster: etcd, kube-apiserver, the Palisade operator, 2 nodes (network namespaces, a shim and eBPF each)."
palisade lab down >/dev/null 2>&1 || true # a fresh lab, even if an earlier demo left one
eval "$(palisade lab up --nodes 2)"
kubectl get nodes -o wide

say "2. A shop (frontend, api) and its data (postgres, reports), in two namespaces:"
kubectl apply -f examples/demo/app.yaml
kubectl wait --for=condition=Ready pod --all -n shop --timeout=120s >/dev/null
kubectl wait --for=condition=Ready pod --all -n data --timeout=120s >/dev/null
kubectl get pods -n shop -o wide
kubectl get pods -n data -o wide

say "3. No policy yet: every pod reaches every other (probed for real, from inside each pod)."
echo "   rows: from, columns: to; '.' connected, 'X' dropped (5432 only listens on data/postgres)"
palisade lab probe --port 8080/TCP --port 5432/TCP --wait

say "4. kubectl apply: only the api may reach postgres (on its port \"pg\"), and nothing in the
   storage tier may call into the shop, whatever else allows it (a Palisade deny rule):"
cat examples/demo/policies/*.yaml | sed 's/^/   | /'
kubectl apply -f examples/demo/policies/
kubectl wait --for=condition=Enforced pnp/no-storage-into-shop -n shop --timeout=60s
kubectl get pnp -A

say "5. The same probes now (--wait: until the kernel agrees with \`policy simulate\` on the cluster's objects):"
palisade lab probe --port 8080/TCP --port 5432/TCP --wait

say "6. What the datapath dropped, and which rule decided (flow events from each node's shim):"
for n in node-1 node-2; do
  echo "   $n:"
  palisade node flows --socket ".lab/nodes/$n/shim.sock" --verdict deny --limit 4 | sed 's/^/   /'
done

say "7. Go on from here:"
cat <<TXT
   export KUBECONFIG=$KUBECONFIG
   export PATH=$(dirname "$(command -v kubectl)"):\$PATH
   kubectl get pods,networkpolicies,pnp -A                       # the cluster
   pnpm -s palisade lab probe --port 8080/TCP -o json             # reachability, for real
   pnpm -s palisade lab exec shop/frontend -- ip -br addr         # a command inside a pod
   pnpm -s palisade node flows --socket .lab/nodes/node-1/shim.sock   # flows on a node
   pnpm -s palisade policy explain -f <(kubectl get ns,pods,netpol,pnp -A -o yaml) \\
       --from data/reports --to shop/frontend --port 8080/TCP     # why, offline
   pnpm -s palisade lab status                                    # every part and its health
   pnpm -s palisade lab down                                      # remove everything
TXT
