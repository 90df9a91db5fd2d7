/**
 * The distribution benchmark's synthetic cluster: N nodes with 10 pods each in 50
 * namespaces, background policies, and the policies each round creates.
 */
import { encodeChange, toWireChange } from '@palisade/api';
import {
  parseObject,
  PolicyEngine,
  policyEntries,
  type CompiledDelta,
  type CompiledState,
} from '@palisade/core';

export const PODS_PER_NODE = 10;
export const NAMESPACES = 50;
export const SVC_APPS = 40;
export const BACKGROUND_POLICIES = 300;
export /** Every this many background policies has an egress rule to a CIDR (derived identities). */
const CIDR_POLICY_EVERY = 30;
export /** Every this many background policies is a PalisadeClusterNetworkPolicy. */
const CLUSTER_POLICY_EVERY = 15;

// ---- the synthetic cluster ------------------------------------------------------------

export function nodeName(i: number): string {
  return `node-${String(i).padStart(4, '0')}`;
}

/** The label of pod 0 of node i: `rare-<k>` is on exactly the nodes i ≡ k (mod 100). */
export function rareApp(i: number): string {
  return `rare-${i % 100}`;
}

export function podIp(g: number): string {
  return `10.${64 + ((g >> 16) & 63)}.${(g >> 8) & 255}.${g & 255}`;
}

export function mustPolicy(obj: unknown): ReturnType<typeof parseObject> & { kind: 'Policy' } {
  const p = parseObject(obj);
  if (p.kind !== 'Policy') throw new Error(`not a policy: ${p.kind}`);
  return p;
}

/**
 * The namespace of a `svc-<a>` pod: each app lives in 5 namespaces, and the apps a, a+10,
 * a+20 and a+30 share theirs (so namespaced policies find peers).
 */
export function svcNamespace(a: number, i: number): string {
  return `ns-${(a * 5 + (i % 5)) % NAMESPACES}`;
}

export function backgroundPolicy(k: number): unknown {
  const a = k % SVC_APPS;
  const ns = svcNamespace(a, Math.floor(k / SVC_APPS));
  const app = (d: number): { matchLabels: Record<string, string> } => ({
    matchLabels: { app: `svc-${(a + d) % SVC_APPS}` },
  });
  if (k % CLUSTER_POLICY_EVERY === 0)
    return {
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'PalisadeClusterNetworkPolicy',
      metadata: { name: `bg-${k}` },
      spec: {
        endpointSelector: app(0),
        ingress: [
          {
            from: [{ endpointSelector: app(3) }, { entity: 'host' }],
            ports: [{ protocol: 'TCP', port: 7000 + (k % 100) }],
          },
        ],
      },
    };
  const egressTo: unknown[] = [{ podSelector: app(20) }];
  if (k % CIDR_POLICY_EVERY === 0) egressTo.push({ ipBlock: { cidr: `192.168.${k % 256}.0/24` } });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: ns, name: `bg-${k}` },
    spec: {
      podSelector: app(0),
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [
            { podSelector: app(10) },
            { namespaceSelector: { matchLabels: { team: `t${k % 10}` } }, podSelector: app(5) },
          ],
          ports: [
            { protocol: 'TCP', port: 8080 },
            { protocol: 'TCP', port: 9000, endPort: 9100 },
          ],
        },
      ],
      egress: [{ to: egressTo, ports: [{ protocol: 'TCP', port: 5432 }] }],
    },
  };
}

/** The changed policy of a round: cluster-wide, selecting `selectApp`, one ingress rule. */
export function roundPolicy(
  name: string,
  selectApp: string,
  fromApp: string,
  port: number,
): unknown {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeClusterNetworkPolicy',
    metadata: { name },
    spec: {
      endpointSelector: { matchLabels: { app: selectApp } },
      ingress: [
        {
          from: [{ endpointSelector: { matchLabels: { app: fromApp } } }],
          ports: [{ protocol: 'TCP', port }],
        },
      ],
    },
  };
}

/** The compiled cluster of one scale. */
export interface Cluster {
  readonly engine: PolicyEngine;
  readonly nodes: readonly string[];
  readonly initial: CompiledDelta;
  readonly buildMs: number;
  readonly pods: number;
  readonly policies: number;
}

export function buildCluster(n: number): Cluster {
  const t0 = performance.now();
  const engine = new PolicyEngine();
  const nodes: string[] = [];
  for (let x = 0; x < NAMESPACES; x++)
    engine.upsertNamespace({ name: `ns-${x}`, labels: { team: `t${x % 10}` } });
  for (let i = 0; i < n; i++) {
    const node = nodeName(i);
    nodes.push(node);
    engine.upsertNode(node, [`172.16.${i >> 8}.${i & 255}`]);
    for (let j = 0; j < PODS_PER_NODE; j++) {
      const g = i * PODS_PER_NODE + j;
      const a = (i * 7 + j) % SVC_APPS;
      const app = j === 0 ? rareApp(i) : j === 1 ? 'everywhere' : `svc-${a}`;
      engine.upsertPod({
        namespace: j < 2 ? `ns-${g % NAMESPACES}` : svcNamespace(a, i),
        name: `p-${i}-${j}`,
        labels: { app, 'pod-template-hash': `h${g}` },
        serviceAccount: 'default',
        ips: [podIp(g)],
        namedPorts: [],
        hostNetwork: false,
        nodeName: node,
      });
    }
  }
  for (let k = 0; k < BACKGROUND_POLICIES; k++)
    engine.upsertPolicy(mustPolicy(backgroundPolicy(k)).policy);
  const initial = engine.flush();
  return {
    engine,
    nodes,
    initial,
    buildMs: performance.now() - t0,
    pods: n * PODS_PER_NODE,
    policies: BACKGROUND_POLICIES,
  };
}

/** The whole compiled state as one change (what "send everything" would send). */
export function stateAsDelta(s: CompiledState): CompiledDelta {
  return {
    identities: { upsert: [...s.identities.values()], remove: [] },
    ipcache: {
      upsert: [...s.ipcache].map(([prefix, identity]) => ({ prefix, identity })),
      remove: [],
    },
    endpoints: { upsert: [...s.endpoints.values()], remove: [] },
    isolation: {
      upsert: [...s.isolation].map(([identity, iso]) => ({ identity, ...iso })),
      remove: [],
    },
    policy: { upsert: [...policyEntries(s)], remove: [] },
  };
}

export function encodedSize(d: CompiledDelta): number {
  return encodeChange(toWireChange(d)).length;
}
