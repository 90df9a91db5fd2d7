/**
 * The security-relevant labels of a pod, and the canonical key that names a label set.
 *
 * An identity is made of: the pod's labels (filtered), the namespace name, the namespace's
 * labels, the service account, and the pod's named container ports. Each part has its own
 * section in the key, so a pod label can never collide with a namespace label.
 * Named ports are part of the identity because NetworkPolicy resolves port names on each
 * destination pod: pods that share an identity must agree on what their names mean.
 */
import type { Labels } from '../model/labels.js';
import type { LabelFilter } from './labelFilter.js';

/** A named container port. */
export interface NamedPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** The security-relevant labels of a pod. Maps are sorted by key. */
export interface SecurityLabels {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly podLabels: Labels;
  readonly namespaceLabels: Labels;
  readonly namedPorts: readonly NamedPort[];
}

/** A copy of `labels` with keys in sorted order, keeping only those the filter accepts. */
export function sortedLabels(labels: Labels, keep?: LabelFilter): Labels {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) {
    if (!keep || keep.isRelevant(k)) out[k] = labels[k] as string;
  }
  return out;
}

/** Builds the security labels of a pod. */
export function securityLabels(input: {
  namespace: string;
  serviceAccount: string;
  podLabels: Labels;
  namespaceLabels: Labels;
  /** True when namespaceLabels is already sorted by key (lets callers share one object per namespace). */
  namespaceLabelsSorted?: boolean;
  namedPorts: readonly NamedPort[];
  filter: LabelFilter;
}): SecurityLabels {
  const ports = [...input.namedPorts].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return {
    namespace: input.namespace,
    serviceAccount: input.serviceAccount,
    podLabels: sortedLabels(input.podLabels, input.filter),
    namespaceLabels: input.namespaceLabelsSorted
      ? input.namespaceLabels
      : sortedLabels(input.namespaceLabels),
    namedPorts: ports,
  };
}

function encodeLabels(l: Labels): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * The canonical key of a label set. Label keys and values cannot contain `,`, `|`, `;`
 * or `=` after validation, so the sections cannot run into each other.
 */
export function identityKey(s: SecurityLabels): string {
  const ports = s.namedPorts.map((p) => `${p.name}=${p.port}/${p.protocol}`).join(',');
  return `ns=${s.namespace}|sa=${s.serviceAccount}|pod:${encodeLabels(s.podLabels)}|nsl:${encodeLabels(s.namespaceLabels)}|port:${ports}`;
}

/** The labels as a flat list of `source:key=value` strings, for display and for stores. */
export function labelList(s: SecurityLabels): string[] {
  return [
    `meta:namespace=${s.namespace}`,
    `meta:serviceaccount=${s.serviceAccount}`,
    ...Object.entries(s.podLabels).map(([k, v]) => `k8s:${k}=${v}`),
    ...Object.entries(s.namespaceLabels).map(([k, v]) => `ns:${k}=${v}`),
    ...s.namedPorts.map((p) => `port:${p.name}=${p.port}/${p.protocol}`),
  ];
}
