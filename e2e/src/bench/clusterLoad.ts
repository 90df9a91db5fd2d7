/**
 * The populated cluster of the operator benchmark: namespaces, pods and policies shaped like
 * a busy cluster, written to the real apiserver with bounded concurrency.
 *
 * Shape (for P pods and Q policies): max(10, P/100) namespaces `bench-<n>`, labelled with a
 * team (10 teams) and an environment. Pods spread evenly over them; in each namespace every
 * `app` label is shared by ~10 pods, which also carry a per-pod `pod-template-hash` (left
 * out of identities by default), a tier and a named container port, so the cluster has about
 * P/10 identities. Every pod gets a unique IPv4 address written through the status
 * subresource, as a kubelet would. Policies alternate between NetworkPolicy and
 * PalisadeNetworkPolicy, each selecting one app of its namespace, with pod, namespace and
 * CIDR peers (ipBlock / cidrSet with except), ports, port ranges and deny rules.
 */
import { Resources, type KubeClient, type KubeObject, type Resource } from '@palisade/operator';
import { createPod, ensureNamespace } from '../operator/testCluster.js';
import { runPool } from './benchKit.js';

/** Pods sharing one `app` label in a namespace. */
export const PODS_PER_APP = 10;

/** The layout derived from the requested sizes. */
export interface ClusterShape {
  readonly namespaces: number;
  readonly pods: number;
  readonly policies: number;
  /** Distinct `app` labels per namespace. */
  readonly appsPerNamespace: number;
}

/** The layout for `pods` pods and `policies` policies. */
export function clusterShape(pods: number, policies: number): ClusterShape {
  const namespaces = Math.max(10, Math.round(pods / 100));
  const appsPerNamespace = Math.max(1, Math.ceil(pods / namespaces / PODS_PER_APP));
  return { namespaces, pods, policies, appsPerNamespace };
}

/** The name of namespace `n`. */
export function namespaceName(n: number): string {
  return `bench-${n}`;
}

/** The team label of namespace `n`. */
function team(n: number): string {
  return `team-${n % 10}`;
}

/** A unique address for pod number `i` (10.64.0.0/10, so at most ~4M pods). */
export function podIp(i: number, base = 64): string {
  return `10.${base + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`;
}

function tier(app: number): string {
  return ['frontend', 'backend', 'db'][app % 3] ?? 'frontend';
}

/** Policy `k` of namespace `n` (k even: NetworkPolicy, k odd: PalisadeNetworkPolicy). */
export function policyObject(shape: ClusterShape, n: number, k: number, name?: string): KubeObject {
  const ns = namespaceName(n);
  const app = `app-${k % shape.appsPerNamespace}`;
  const peerApp = `app-${(k + 1) % shape.appsPerNamespace}`;
  if (k % 2 === 0)
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: name ?? `np-${k}`, namespace: ns },
      spec:
        k % 4 === 0
          ? {
              podSelector: { matchLabels: { app } },
              policyTypes: ['Ingress'],
              ingress: [
                {
                  from: [
                    { podSelector: { matchLabels: { app: peerApp } } },
                    {
                      namespaceSelector: { matchLabels: { team: team(n + 1) } },
                      podSelector: { matchLabels: { tier: 'frontend' } },
                    },
                  ],
                  ports: [{ port: 'http' }, { port: 8443 + (k % 7), protocol: 'TCP' }],
                },
              ],
            }
          : {
              podSelector: { matchLabels: { app } },
              policyTypes: ['Ingress', 'Egress'],
              ingress: [
                {
                  from: [{ namespaceSelector: { matchLabels: { env: 'prod' } } }],
                  ports: [{ port: 8080, endPort: 8090, protocol: 'TCP' }],
                },
              ],
              egress: [
                {
                  to: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.${k % 64}.0.0/16`] } }],
                  ports: [
                    { port: 443, protocol: 'TCP' },
                    { port: 53, protocol: 'UDP' },
                  ],
                },
              ],
            },
    };
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { name: name ?? `pnp-${k}`, namespace: ns },
    spec:
      k % 4 === 1
        ? {
            endpointSelector: { matchLabels: { app } },
            ingress: [
              {
                from: [{ endpointSelector: { matchLabels: { tier: 'frontend' } } }],
                ports: [{ port: 8080, endPort: 8090, protocol: 'TCP' }],
              },
            ],
            egress: [
              { to: [{ cidr: '192.168.0.0/16' }], ports: [{ port: 5432, protocol: 'TCP' }] },
              { to: [{ entity: 'world' }], ports: [{ port: 53, protocol: 'UDP' }] },
            ],
          }
        : {
            endpointSelector: { matchLabels: { app } },
            ingress: [
              {
                from: [
                  {
                    namespaceSelector: { matchLabels: { team: team(n + 2) } },
                    endpointSelector: { matchLabels: { app: peerApp } },
                  },
                ],
                ports: [{ port: 'http', protocol: 'TCP' }],
              },
            ],
            ingressDeny: [
              {
                from: [{ cidrSet: { cidr: '10.0.0.0/8', except: [`10.${64 + (k % 8)}.0.0/16`] } }],
              },
            ],
            egressDeny: [{ to: [{ entity: 'kube-apiserver' }] }],
          },
  };
}

/** The resource of a policy object. */
export function policyResource(obj: KubeObject): Resource {
  return obj.kind === 'NetworkPolicy'
    ? Resources.networkPolicies
    : obj.kind === 'PalisadeNetworkPolicy'
      ? Resources.palisadeNetworkPolicies
      : Resources.palisadeClusterNetworkPolicies;
}

/** The operator's policy key of a namespaced policy object. */
export function policyKeyOf(obj: KubeObject): string {
  return `${obj.kind ?? ''}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

/** Creates the namespaces, pods (with status) and policies of `shape`. Returns the wall time (ms) of each step. */
export async function populate(
  client: KubeClient,
  shape: ClusterShape,
  concurrency: number,
): Promise<{ namespacesMs: number; podsMs: number; policiesMs: number }> {
  const namespacesMs = await runPool('namespaces', shape.namespaces, concurrency, (n) =>
    ensureNamespace(client, namespaceName(n), {
      team: team(n),
      env: n % 2 === 0 ? 'prod' : 'staging',
    }),
  );
  const podsMs = await runPool('pods (create + status)', shape.pods, concurrency, async (i) => {
    const n = i % shape.namespaces;
    const j = Math.floor(i / shape.namespaces);
    const app = Math.floor(j / PODS_PER_APP) % shape.appsPerNamespace;
    const hash = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 8);
    await createPod(client, {
      namespace: namespaceName(n),
      name: `app-${app}-${hash}-${j}`,
      labels: { app: `app-${app}`, tier: tier(app), 'pod-template-hash': hash },
      ips: [podIp(i)],
      ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    });
  });
  const policiesMs = await runPool('policies', shape.policies, concurrency, async (i) => {
    const obj = policyObject(shape, i % shape.namespaces, Math.floor(i / shape.namespaces));
    await client.create(policyResource(obj), obj);
  });
  return { namespacesMs, podsMs, policiesMs };
}
