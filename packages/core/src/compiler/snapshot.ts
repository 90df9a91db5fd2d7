/**
 * A compiled state as plain JSON: what a node receives (the operator's snapshot), and
 * what the shim can read from a file. `fromSnapshot(toSnapshot(s))` equals `s`.
 */
import {
  applyDelta,
  emptyState,
  policyEntries,
  type CompiledState,
  type EndpointInfo,
  type IdentityInfo,
  type PolicyMapEntry,
} from './compiledState.js';

/** The JSON form of a compiled state. */
export interface CompiledSnapshot {
  readonly identities: IdentityInfo[];
  readonly ipcache: { prefix: string; identity: number }[];
  readonly endpoints: EndpointInfo[];
  readonly isolation: { identity: number; ingress: boolean; egress: boolean }[];
  readonly policy: PolicyMapEntry[];
}

/** A compiled state as JSON-ready data. */
export function toSnapshot(s: CompiledState): CompiledSnapshot {
  return {
    identities: [...s.identities.values()],
    ipcache: [...s.ipcache].map(([prefix, identity]) => ({ prefix, identity })),
    endpoints: [...s.endpoints.values()],
    isolation: [...s.isolation].map(([identity, iso]) => ({ identity, ...iso })),
    policy: [...policyEntries(s)],
  };
}

/** A compiled state from its JSON form. Throws a TypeError naming the field when the shape is wrong. */
export function fromSnapshot(j: unknown): CompiledState {
  const o = j as Partial<CompiledSnapshot> | null;
  for (const f of ['identities', 'ipcache', 'endpoints', 'isolation', 'policy'] as const)
    if (!o || !Array.isArray(o[f])) throw new TypeError(`compiled snapshot: ${f} must be a list`);
  const s = emptyState();
  const snap = o as CompiledSnapshot;
  applyDelta(s, {
    identities: { upsert: snap.identities, remove: [] },
    ipcache: { upsert: snap.ipcache, remove: [] },
    endpoints: { upsert: snap.endpoints, remove: [] },
    isolation: { upsert: snap.isolation, remove: [] },
    policy: { upsert: snap.policy, remove: [] },
  });
  return s;
}
