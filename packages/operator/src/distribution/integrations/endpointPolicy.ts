/**
 * GetEndpointPolicy: the compiled policy of one identity — its pods, its isolation and
 * every policy map entry whose subject it is — found by pod (`namespace/name`) or by number.
 */
import {
  comparePolicyKeys,
  DIRECTIONS,
  policyGroupKey,
  type CompiledState,
  type PolicyMapEntry,
} from '@palisade/core';
import {
  toWireEntry,
  type EndpointPolicy,
  type GetEndpointPolicyRequest__Output,
} from '@palisade/api';
import { IntegrationsError } from './integrationsError.js';
import { toWireIdentity } from './identityQuery.js';

/** The identity a request targets; throws IntegrationsError (INVALID_ARGUMENT, NOT_FOUND). */
export function targetIdentity(
  state: CompiledState,
  req: GetEndpointPolicyRequest__Output,
): number {
  switch (req.target) {
    case 'pod': {
      const pod = req.pod ?? '';
      if (!/^[^/\s]+\/[^/\s]+$/.test(pod))
        throw new IntegrationsError(
          'INVALID_ARGUMENT',
          `pod: ${JSON.stringify(pod)} is not namespace/name`,
        );
      const ep = state.endpoints.get(pod);
      if (!ep)
        throw new IntegrationsError(
          'NOT_FOUND',
          `pod ${pod} is not an endpoint of the compiled state (no such pod, or it uses the host network)`,
        );
      return ep.identity;
    }
    case 'identity': {
      const id = req.identity ?? 0;
      if (id === 0)
        throw new IntegrationsError(
          'INVALID_ARGUMENT',
          'identity: 0 is the wildcard, not an identity',
        );
      if (!state.identities.has(id))
        throw new IntegrationsError('NOT_FOUND', `identity ${id} is not in use`);
      return id;
    }
    case undefined:
      break;
  }
  throw new IntegrationsError('INVALID_ARGUMENT', 'target: give pod (namespace/name) or identity');
}

/** The policy map entries of one subject identity, in key order. */
export function entriesOf(state: CompiledState, subject: number): PolicyMapEntry[] {
  const out: PolicyMapEntry[] = [];
  // One lookup per (direction, remote) rather than a scan of every group of the cluster.
  for (const direction of DIRECTIONS)
    for (const remote of [0, ...state.identities.keys()]) {
      const group = state.policy.get(policyGroupKey(subject, direction, remote));
      if (group) out.push(...group.values());
    }
  return out.sort((a, b) => comparePolicyKeys(a.key, b.key));
}

/** The compiled policy of the identity a request targets. */
export function endpointPolicy(
  state: CompiledState,
  req: GetEndpointPolicyRequest__Output,
): EndpointPolicy {
  const id = targetIdentity(state, req);
  const identity = state.identities.get(id) ?? { id, labels: [] };
  const pods: string[] = [];
  for (const ep of state.endpoints.values()) if (ep.identity === id) pods.push(ep.pod);
  const isolation = state.isolation.get(id);
  return {
    identity: toWireIdentity(identity),
    pods: pods.sort(),
    ingressIsolated: isolation?.ingress ?? false,
    egressIsolated: isolation?.egress ?? false,
    entries: entriesOf(state, id).map(toWireEntry),
  };
}
