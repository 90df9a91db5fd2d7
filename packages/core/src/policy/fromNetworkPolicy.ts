/**
 * networking.k8s.io/v1 NetworkPolicy → internal Policy, with upstream semantics:
 * - isolation per direction from policyTypes; when absent, Ingress always and Egress
 *   when the policy has at least one egress rule (the apiserver's defaulting);
 * - rules of a direction not in policyTypes are ignored;
 * - `from`/`to` absent or empty: every peer; `ports` absent or empty: every port;
 * - within one peer, namespaceSelector AND podSelector; podSelector alone means the
 *   policy's namespace; namespaceSelector alone means every pod of those namespaces;
 * - ipBlock `except` entries must be strict subsets of `cidr`.
 */
import { PolicyError } from '../errors.js';
import { compileSelector, EVERYTHING } from '../model/selector.js';
import type {
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
} from '../schema/networkPolicy.js';
import { cidrField, exceptField, portField } from './validate.js';
import {
  policyKey,
  type Direction,
  type Peer,
  type Policy,
  type PolicyRef,
  type PortMatch,
  type Rule,
} from './types.js';

/** Normalises a parsed NetworkPolicy. @throws PolicyError naming the field. */
export function fromNetworkPolicy(np: NetworkPolicy): Policy {
  const namespace = np.metadata.namespace ?? 'default';
  const ref: PolicyRef = { kind: 'NetworkPolicy', namespace, name: np.metadata.name };
  const key = policyKey(ref);
  try {
    const spec = np.spec;
    const types =
      spec.policyTypes ??
      (spec.egress && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress']);
    const isolates = { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
    const rules: Rule[] = [];
    if (isolates.ingress)
      (spec.ingress ?? []).forEach((r, i) =>
        rules.push(rule(key, namespace, 'ingress', `spec.ingress[${i}]`, r.from, 'from', r.ports)),
      );
    if (isolates.egress)
      (spec.egress ?? []).forEach((r, i) =>
        rules.push(rule(key, namespace, 'egress', `spec.egress[${i}]`, r.to, 'to', r.ports)),
      );
    const pods = compileSelector(spec.podSelector, 'spec.podSelector');
    return {
      key,
      ref,
      subject: { namespaces: { kind: 'name', name: namespace }, pods },
      isolates,
      rules,
      warnings: [],
    };
  } catch (err) {
    if (err instanceof PolicyError) throw err.withObject(ref);
    throw err;
  }
}

function rule(
  policy: string,
  namespace: string,
  direction: Direction,
  path: string,
  peers: readonly NetworkPolicyPeer[] | null | undefined,
  peerField: 'from' | 'to',
  ports: readonly NetworkPolicyPort[] | null | undefined,
): Rule {
  return {
    id: `${policy}:${path}`,
    path,
    direction,
    action: 'allow',
    peers:
      !peers || peers.length === 0
        ? 'any'
        : peers.map((p, i) => peer(p, namespace, `${path}.${peerField}[${i}]`)),
    ports:
      !ports || ports.length === 0 ? 'any' : ports.map((p, i) => port(p, `${path}.ports[${i}]`)),
  };
}

function peer(p: NetworkPolicyPeer, namespace: string, field: string): Peer {
  const hasSel = p.podSelector != null || p.namespaceSelector != null;
  if (p.ipBlock != null) {
    if (hasSel)
      throw new PolicyError(
        'InvalidObject',
        field,
        'may not specify both ipBlock and another peer',
      );
    const cidr = cidrField(p.ipBlock.cidr, `${field}.ipBlock.cidr`);
    return {
      kind: 'cidr',
      cidr,
      except: exceptField(cidr, p.ipBlock.except ?? [], `${field}.ipBlock.except`),
    };
  }
  if (!hasSel)
    throw new PolicyError(
      'InvalidObject',
      field,
      'must specify a peer (podSelector, namespaceSelector or ipBlock)',
    );
  const pods =
    p.podSelector != null ? compileSelector(p.podSelector, `${field}.podSelector`) : EVERYTHING;
  if (p.namespaceSelector == null)
    return { kind: 'endpoints', namespaces: { kind: 'name', name: namespace }, pods };
  const nsSel = compileSelector(p.namespaceSelector, `${field}.namespaceSelector`);
  return { kind: 'endpoints', namespaces: { kind: 'selector', selector: nsSel }, pods };
}

function port(p: NetworkPolicyPort, field: string): PortMatch {
  const protocol = p.protocol ?? 'TCP';
  const checked = portField(p.port ?? undefined, p.endPort ?? undefined, field);
  return { protocol, ...checked };
}
