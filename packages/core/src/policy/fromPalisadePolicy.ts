/**
 * PalisadeNetworkPolicy / PalisadeClusterNetworkPolicy → internal Policy.
 *
 * Semantics (see docs/policy-semantics.md):
 * - `ingress` present (even empty) isolates ingress; `egress` likewise. Deny rules never
 *   isolate: they only take away.
 * - Deny beats allow, across every policy that selects the pod.
 * - A peer's `endpointSelector` alone means the policy's namespace (namespaced kind) or
 *   every namespace (cluster kind).
 * - Protocol `ANY` with a port means that port on TCP, UDP and SCTP; without a port, every
 *   protocol.
 * - An allow rule with `http` redirects matching traffic to the L7 proxy.
 */
import { PolicyError } from '../errors.js';
import { compileSelector, EVERYTHING } from '../model/selector.js';
import type {
  HTTPRule,
  PalisadeClusterNetworkPolicy,
  PalisadeNetworkPolicy,
  PalisadePeer,
  PalisadePortRule,
} from '../schema/palisadePolicy.js';
import { cidrField, exceptField, portField, regexField } from './validate.js';
import {
  policyKey,
  type Direction,
  type HttpRule,
  type NamespaceMatch,
  type Peer,
  type Policy,
  type PolicyRef,
  type PortMatch,
  type Rule,
  type RuleAction,
} from './types.js';

type Spec = PalisadeClusterNetworkPolicy['spec'];

/** The shape shared by the four rule lists (allow/deny × ingress/egress). */
interface AnyRule {
  readonly from?: PalisadePeer[] | undefined;
  readonly to?: PalisadePeer[] | undefined;
  readonly ports?: PalisadePortRule[] | undefined;
  readonly http?: HTTPRule[] | undefined;
}

/** Normalises a parsed Palisade policy of either kind. @throws PolicyError naming the field. */
export function fromPalisadePolicy(
  obj: PalisadeNetworkPolicy | PalisadeClusterNetworkPolicy,
): Policy {
  const clusterScoped = obj.kind === 'PalisadeClusterNetworkPolicy';
  const namespace = clusterScoped ? undefined : (obj.metadata.namespace ?? 'default');
  const ref: PolicyRef = { kind: obj.kind, namespace, name: obj.metadata.name };
  const key = policyKey(ref);
  try {
    const spec: Spec = obj.spec;
    const scope: NamespaceMatch =
      namespace !== undefined
        ? { kind: 'name', name: namespace }
        : {
            kind: 'selector',
            selector: compileSelector(spec.namespaceSelector, 'spec.namespaceSelector'),
          };
    const rules: Rule[] = [];
    const add = (
      list: readonly AnyRule[] | undefined,
      field: string,
      direction: Direction,
      action: RuleAction,
    ): void =>
      (list ?? []).forEach((r, i) => {
        const path = `spec.${field}[${i}]`;
        const peers = direction === 'ingress' ? r.from : r.to;
        const peerField = direction === 'ingress' ? 'from' : 'to';
        const http = r.http?.map((h, j) => httpRule(h, `${path}.http[${j}]`));
        const ports =
          !r.ports || r.ports.length === 0
            ? 'any'
            : r.ports.flatMap((p, j) => portRule(p, `${path}.ports[${j}]`));
        if (
          http &&
          http.length > 0 &&
          (ports === 'any' || ports.some((p) => p.protocol !== 'TCP' || p.port === undefined))
        )
          throw new PolicyError(
            'InvalidObject',
            `${path}.http`,
            'http rules need ports, all with protocol TCP and a port',
          );
        rules.push({
          id: `${key}:${path}`,
          path,
          direction,
          action,
          peers: peerList(peers, namespace, `${path}.${peerField}`),
          ports,
          ...(http && http.length > 0 ? { http } : {}),
        });
      });
    add(spec.ingress, 'ingress', 'ingress', 'allow');
    add(spec.egress, 'egress', 'egress', 'allow');
    add(spec.ingressDeny, 'ingressDeny', 'ingress', 'deny');
    add(spec.egressDeny, 'egressDeny', 'egress', 'deny');
    return {
      key,
      ref,
      subject: {
        namespaces: scope,
        pods: compileSelector(spec.endpointSelector, 'spec.endpointSelector'),
      },
      isolates: { ingress: spec.ingress !== undefined, egress: spec.egress !== undefined },
      rules,
      warnings: [],
    };
  } catch (err) {
    if (err instanceof PolicyError) throw err.withObject(ref);
    throw err;
  }
}

/** The peers of a rule: absent, empty, or naming `entity: all` means every remote. */
function peerList(
  peers: readonly PalisadePeer[] | undefined,
  namespace: string | undefined,
  field: string,
): 'any' | Peer[] {
  if (!peers || peers.length === 0) return 'any';
  const out = peers.map((p, j) => peer(p, namespace, `${field}[${j}]`));
  return out.some((p) => p === 'any') ? 'any' : (out as Peer[]);
}

function peer(p: PalisadePeer, namespace: string | undefined, field: string): Peer | 'any' {
  const kinds =
    (p.endpointSelector || p.namespaceSelector ? 1 : 0) +
    (p.cidr ? 1 : 0) +
    (p.cidrSet ? 1 : 0) +
    (p.entity ? 1 : 0);
  if (kinds !== 1)
    throw new PolicyError(
      'InvalidObject',
      field,
      'a peer names exactly one kind of selector: endpointSelector/namespaceSelector, cidr, cidrSet or entity',
    );
  if (p.cidr !== undefined)
    return { kind: 'cidr', cidr: cidrField(p.cidr, `${field}.cidr`), except: [] };
  if (p.cidrSet) {
    const cidr = cidrField(p.cidrSet.cidr, `${field}.cidrSet.cidr`);
    return {
      kind: 'cidr',
      cidr,
      except: exceptField(cidr, p.cidrSet.except ?? [], `${field}.cidrSet.except`),
    };
  }
  if (p.entity !== undefined)
    return p.entity === 'all' ? 'any' : { kind: 'entity', entity: p.entity };
  const pods = p.endpointSelector
    ? compileSelector(p.endpointSelector, `${field}.endpointSelector`)
    : EVERYTHING;
  const namespaces: NamespaceMatch = p.namespaceSelector
    ? {
        kind: 'selector',
        selector: compileSelector(p.namespaceSelector, `${field}.namespaceSelector`),
      }
    : namespace !== undefined
      ? { kind: 'name', name: namespace }
      : { kind: 'selector', selector: EVERYTHING };
  return { kind: 'endpoints', namespaces, pods };
}

function portRule(p: PalisadePortRule, field: string): PortMatch[] {
  const protocol = p.protocol;
  if (protocol === 'ICMP' || protocol === 'ICMPv6') {
    if (p.port !== undefined)
      throw new PolicyError('InvalidPort', `${field}.port`, 'ICMP rules match icmpType, not port');
    return [
      {
        protocol,
        ...(p.icmpType !== undefined ? portField(p.icmpType, undefined, field, 255) : {}),
      },
    ];
  }
  if (p.icmpType !== undefined)
    throw new PolicyError(
      'InvalidPort',
      `${field}.icmpType`,
      'icmpType is only for protocol ICMP or ICMPv6',
    );
  const checked = portField(p.port, p.endPort, field);
  if (protocol === 'ANY')
    return checked.port === undefined
      ? [{ protocol: 'ANY' }]
      : (['TCP', 'UDP', 'SCTP'] as const).map((proto) => ({ protocol: proto, ...checked }));
  return [{ protocol, ...checked }];
}

function httpRule(h: HTTPRule, field: string): HttpRule {
  return {
    ...(h.method !== undefined ? { method: regexField(h.method, `${field}.method`) } : {}),
    ...(h.path !== undefined ? { path: regexField(h.path, `${field}.path`) } : {}),
    ...(h.host !== undefined ? { host: regexField(h.host, `${field}.host`) } : {}),
    ...(h.headers
      ? {
          headers: h.headers.map((x) =>
            x.value !== undefined ? { name: x.name, value: x.value } : { name: x.name },
          ),
        }
      : {}),
  };
}
