/**
 * The internal policy model. NetworkPolicy, PalisadeNetworkPolicy and
 * PalisadeClusterNetworkPolicy are all normalised into this one shape, validated, with
 * every selector compiled and every CIDR parsed. The compiler reads nothing else.
 */
import type { ObjectRef } from '../errors.js';
import type { Prefix } from '../model/cidr.js';
import type { Protocol } from '../model/ports.js';
import type { Selector } from '../model/selector.js';
import type { Entity } from '../schema/palisadePolicy.js';

/** Traffic direction, seen from the selected pod. */
export type Direction = 'ingress' | 'egress';

/** Both directions, in a stable order. */
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

/** The kinds of policy the engine reads. */
export type PolicyKind = 'NetworkPolicy' | 'PalisadeNetworkPolicy' | 'PalisadeClusterNetworkPolicy';

/** A reference to a policy object. */
export interface PolicyRef extends ObjectRef {
  readonly kind: PolicyKind;
}

/** Which namespaces an endpoint match covers. */
export type NamespaceMatch =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'selector'; readonly selector: Selector };

/** Pods selected by namespace AND pod labels. */
export interface EndpointMatch {
  readonly namespaces: NamespaceMatch;
  readonly pods: Selector;
}

/** One peer of a rule. */
export type Peer =
  | ({ readonly kind: 'endpoints' } & EndpointMatch)
  | { readonly kind: 'cidr'; readonly cidr: Prefix; readonly except: readonly Prefix[] }
  | { readonly kind: 'entity'; readonly entity: Exclude<Entity, 'all'> };

/**
 * A protocol and port set. `port` undefined: every port (or ICMP type) of the protocol.
 * A string `port` is a container port name, resolved on the destination pod.
 * For ICMP, `port` is the ICMP type. Protocol `ANY` never carries a port.
 */
export interface PortMatch {
  readonly protocol: Protocol;
  readonly port?: number | string;
  readonly endPort?: number;
}

/** An L7 HTTP rule with validated regular expressions (anchored when used). */
export interface HttpRule {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly headers?: readonly { readonly name: string; readonly value?: string }[];
}

/** What a rule does with the traffic it matches. */
export type RuleAction = 'allow' | 'deny';

/**
 * One rule. `peers: 'any'` matches every remote (pods, hosts and the world);
 * `ports: 'any'` every protocol and port. An allow rule with `http` sends matching
 * traffic to the L7 proxy instead of allowing it outright.
 */
export interface Rule {
  /** Unique across the engine: `<policy key>:<path>`. */
  readonly id: string;
  /** Field path in the object, e.g. `spec.ingress[0]`. */
  readonly path: string;
  readonly direction: Direction;
  readonly action: RuleAction;
  readonly peers: 'any' | readonly Peer[];
  readonly ports: 'any' | readonly PortMatch[];
  readonly http?: readonly HttpRule[];
}

/** A validated, normalised policy. */
export interface Policy {
  /** `Kind/namespace/name` or `Kind/name`. */
  readonly key: string;
  readonly ref: PolicyRef;
  /** The pods the policy applies to. */
  readonly subject: EndpointMatch;
  /** Whether the selected pods become default-deny in each direction. */
  readonly isolates: { readonly ingress: boolean; readonly egress: boolean };
  readonly rules: readonly Rule[];
  /** Things that are legal but probably not what the author meant. */
  readonly warnings: readonly string[];
}

/** The key of a policy: `Kind/namespace/name` or `Kind/name` for cluster-scoped kinds. */
export function policyKey(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`;
}
