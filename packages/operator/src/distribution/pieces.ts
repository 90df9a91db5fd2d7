/**
 * Builders of the encoded pieces nodes' frames are made of. Each piece is a `StateChange`
 * encoded once (`encodeChange`); a frame concatenates the pieces a node needs.
 */
import { encodeChange, toWireEntry, toWireKey, type StateChange } from '@palisade/api';
import type {
  EndpointInfo,
  IdentityInfo,
  Isolation,
  PolicyMapEntry,
  PolicyMapKey,
} from '@palisade/core';

/** The parts of a change, every one optional. */
export interface PieceParts {
  identities?: readonly IdentityInfo[];
  removedIdentities?: readonly number[];
  ipcache?: readonly { prefix: string; identity: number }[];
  removedPrefixes?: readonly string[];
  endpoints?: readonly EndpointInfo[];
  removedEndpoints?: readonly string[];
  isolation?: readonly ({ identity: number } & Isolation)[];
  removedIsolation?: readonly number[];
  policy?: readonly PolicyMapEntry[];
  removedPolicy?: readonly PolicyMapKey[];
}

/** Encodes one piece. */
export function encodePiece(p: PieceParts): Uint8Array {
  const change: StateChange = {
    identities: (p.identities ?? []).map((i) => ({ id: i.id, labels: [...i.labels] })),
    removedIdentities: [...(p.removedIdentities ?? [])],
    ipcache: [...(p.ipcache ?? [])],
    removedPrefixes: [...(p.removedPrefixes ?? [])],
    endpoints: (p.endpoints ?? []).map((e) => ({
      pod: e.pod,
      identity: e.identity,
      ips: [...e.ips],
      node: e.node ?? '',
    })),
    removedEndpoints: [...(p.removedEndpoints ?? [])],
    isolation: (p.isolation ?? []).map((i) => ({
      identity: i.identity,
      ingress: i.ingress,
      egress: i.egress,
    })),
    removedIsolation: [...(p.removedIsolation ?? [])],
    policy: (p.policy ?? []).map(toWireEntry),
    removedPolicy: (p.removedPolicy ?? []).map(toWireKey),
  };
  return encodeChange(change);
}

/** Appends `v` to the list under `k`. */
export function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
