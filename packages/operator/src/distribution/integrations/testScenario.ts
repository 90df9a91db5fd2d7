/**
 * Test helper: a small cluster — two namespaces, four pods, a NetworkPolicy and two
 * PalisadeNetworkPolicies — with allows, a deny, default-deny on both directions, ICMP and
 * a CIDR egress rule. Only tests use it.
 */
import { feedEngine, parseObject, PolicyEngine, type Protocol } from '@palisade/core';
import { ns, pod } from '@palisade/core/testing';

/** The objects of the scenario, in the order a cluster would list them. */
export const SCENARIO: readonly unknown[] = [
  ns('prod', { team: 'a' }),
  ns('dev', { team: 'b' }),
  pod('prod', 'web', { app: 'web' }, '10.1.0.10', [{ name: 'http', containerPort: 80 }]),
  pod('prod', 'db', { app: 'db' }, '10.1.0.20', [{ name: 'pg', containerPort: 5432 }]),
  pod('dev', 'client', { app: 'client' }, '10.2.0.30'),
  pod('dev', 'tool', { app: 'tool' }, '10.2.0.31'),
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'prod', name: 'db-from-web' },
    spec: {
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'pg' }] },
      ],
    },
  },
  {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { namespace: 'prod', name: 'web-ingress' },
    spec: {
      endpointSelector: { matchLabels: { app: 'web' } },
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { team: 'b' } } }],
          ports: [{ port: 80 }, { protocol: 'ICMP', icmpType: 8 }],
        },
      ],
      ingressDeny: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { team: 'b' } },
              endpointSelector: { matchLabels: { app: 'tool' } },
            },
          ],
        },
      ],
    },
  },
  {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { namespace: 'dev', name: 'client-egress' },
    spec: {
      endpointSelector: { matchLabels: { app: 'client' } },
      egress: [
        { to: [{ namespaceSelector: { matchLabels: { team: 'a' } } }] },
        { to: [{ cidr: '8.8.8.8/32' }], ports: [{ port: 53, protocol: 'UDP' }] },
      ],
    },
  },
];

/** The pods of the scenario, `namespace/name`. */
export const SCENARIO_PODS = ['dev/client', 'dev/tool', 'prod/db', 'prod/web'] as const;

/** The ports every pod pair is probed on. */
export const SCENARIO_PORTS: readonly { port: number; protocol: Exclude<Protocol, 'ANY'> }[] = [
  { port: 80, protocol: 'TCP' },
  { port: 5432, protocol: 'TCP' },
  { port: 53, protocol: 'UDP' },
  { port: 8, protocol: 'ICMP' },
];

/** A flushed engine fed with `objects` (default: the scenario). */
export function scenarioEngine(objects: readonly unknown[] = SCENARIO): PolicyEngine {
  const engine = new PolicyEngine();
  feedEngine(
    engine,
    objects.map((o) => parseObject(o)),
  );
  engine.flush();
  return engine;
}

/** The scenario as one multi-document YAML text (JSON documents are YAML), for the CLI. */
export function scenarioYaml(objects: readonly unknown[] = SCENARIO): string {
  return objects.map((o) => JSON.stringify(o)).join('\n---\n') + '\n';
}
