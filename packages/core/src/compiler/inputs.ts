/**
 * What the engine is fed: namespaces and pods reduced to what policy depends on.
 * Conversion from Kubernetes objects lives in `objects/`.
 */
import type { NamedPort } from '../identity/securityLabels.js';
import type { Labels } from '../model/labels.js';

/** A namespace. The engine adds the `kubernetes.io/metadata.name` label itself. */
export interface NamespaceInput {
  readonly name: string;
  readonly labels: Labels;
}

/** A pod. */
export interface PodInput {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly serviceAccount: string;
  /** Pod IPs (IPv4 and/or IPv6); may be empty while the pod is pending. */
  readonly ips: readonly string[];
  readonly namedPorts: readonly NamedPort[];
  /** Host-network pods are not endpoints: policy does not apply to them. */
  readonly hostNetwork: boolean;
  readonly nodeName?: string;
}
