/**
 * The compiled state exactly as a node's datapath holds it, the deltas that move it, and
 * a canonical form for comparing two states whatever numbers their identities got.
 */
import type { Direction } from '../policy/types.js';
import type { MapValue, PortKey } from './mapState.js';
import { portKeyNumber, portKeyString } from './mapState.js';

/** Key of a policy map entry. */
export interface PolicyMapKey extends PortKey {
  /** Identity of the endpoint the policy belongs to. */
  readonly subject: number;
  readonly direction: Direction;
  /** Identity of the other end; 0 = any. */
  readonly remote: number;
}

/** An entry of the policy map. */
export interface PolicyMapEntry {
  readonly key: PolicyMapKey;
  readonly value: MapValue;
}

/** An identity and its labels. */
export interface IdentityInfo {
  readonly id: number;
  readonly labels: readonly string[];
}

/** A pod as the datapath knows it. */
export interface EndpointInfo {
  /** `namespace/name`. */
  readonly pod: string;
  readonly identity: number;
  readonly ips: readonly string[];
  readonly node?: string;
}

/** Whether an identity's endpoints are isolated (default deny) per direction. */
export interface Isolation {
  readonly ingress: boolean;
  readonly egress: boolean;
}

/** A full compiled state. */
export interface CompiledState {
  readonly identities: Map<number, IdentityInfo>;
  /** Prefix (`10.0.0.1/32`) → identity. */
  readonly ipcache: Map<string, number>;
  readonly endpoints: Map<string, EndpointInfo>;
  readonly isolation: Map<number, Isolation>;
  /**
   * The policy map, grouped: `policyGroupKey` (subject/direction/remote) → packed port key
   * (`portKeyNumber`) → entry. Use `policyEntry`, `policyEntries` and `policyEntryCount`.
   */
  readonly policy: Map<string, Map<number, PolicyMapEntry>>;
}

/** A change to a compiled state. Every list is sorted (policy keys by `comparePolicyKeys`), so equal changes print equally. */
export interface CompiledDelta {
  readonly identities: { readonly upsert: IdentityInfo[]; readonly remove: number[] };
  readonly ipcache: {
    readonly upsert: { prefix: string; identity: number }[];
    readonly remove: string[];
  };
  readonly endpoints: { readonly upsert: EndpointInfo[]; readonly remove: string[] };
  readonly isolation: {
    readonly upsert: ({ identity: number } & Isolation)[];
    readonly remove: number[];
  };
  readonly policy: { readonly upsert: PolicyMapEntry[]; readonly remove: PolicyMapKey[] };
}

/** The group part of a policy map key: `subject/direction/remote`. */
export function policyGroupKey(subject: number, direction: Direction, remote: number): string {
  return `${subject}/${direction}/${remote}`;
}

/** The entry with exactly this key, if any. */
export function policyEntry(s: CompiledState, k: PolicyMapKey): PolicyMapEntry | undefined {
  return s.policy.get(policyGroupKey(k.subject, k.direction, k.remote))?.get(portKeyNumber(k));
}

/** Every policy map entry. */
export function* policyEntries(s: CompiledState): Iterable<PolicyMapEntry> {
  for (const g of s.policy.values()) yield* g.values();
}

/** Number of policy map entries. */
export function policyEntryCount(s: CompiledState): number {
  let n = 0;
  for (const g of s.policy.values()) n += g.size;
  return n;
}

/** Orders policy map keys by their fields (numbers first, so sorting builds no strings). */
export function comparePolicyKeys(a: PolicyMapKey, b: PolicyMapKey): number {
  return (
    a.subject - b.subject ||
    (a.direction === b.direction ? 0 : a.direction === 'ingress' ? -1 : 1) ||
    a.remote - b.remote ||
    a.protocol - b.protocol ||
    a.port - b.port ||
    a.prefixLen - b.prefixLen
  );
}

const ISOLATION: readonly Isolation[] = [
  { ingress: false, egress: false },
  { ingress: true, egress: false },
  { ingress: false, egress: true },
  { ingress: true, egress: true },
];

/** The shared (immutable) isolation value for these flags. */
export function isolationOf(ingress: boolean, egress: boolean): Isolation {
  return ISOLATION[(ingress ? 1 : 0) + (egress ? 2 : 0)] as Isolation;
}

/** An empty state. */
export function emptyState(): CompiledState {
  return {
    identities: new Map(),
    ipcache: new Map(),
    endpoints: new Map(),
    isolation: new Map(),
    policy: new Map(),
  };
}

/** Number of changed entries in a delta. */
export function deltaSize(d: CompiledDelta): number {
  return (
    d.identities.upsert.length +
    d.identities.remove.length +
    d.ipcache.upsert.length +
    d.ipcache.remove.length +
    d.endpoints.upsert.length +
    d.endpoints.remove.length +
    d.isolation.upsert.length +
    d.isolation.remove.length +
    d.policy.upsert.length +
    d.policy.remove.length
  );
}

/** Applies a delta in place: removals first, then upserts (as the datapath does). */
export function applyDelta(s: CompiledState, d: CompiledDelta): void {
  for (const k of d.policy.remove) {
    const gk = policyGroupKey(k.subject, k.direction, k.remote);
    const g = s.policy.get(gk);
    if (g?.delete(portKeyNumber(k)) && g.size === 0) s.policy.delete(gk);
  }
  for (const p of d.ipcache.remove) s.ipcache.delete(p);
  for (const e of d.endpoints.remove) s.endpoints.delete(e);
  for (const i of d.isolation.remove) s.isolation.delete(i);
  for (const i of d.identities.remove) s.identities.delete(i);
  for (const i of d.identities.upsert) s.identities.set(i.id, i);
  for (const i of d.isolation.upsert) s.isolation.set(i.identity, isolationOf(i.ingress, i.egress));
  for (const e of d.endpoints.upsert) s.endpoints.set(e.pod, e);
  for (const u of d.ipcache.upsert) s.ipcache.set(u.prefix, u.identity);
  for (const e of d.policy.upsert) {
    const gk = policyGroupKey(e.key.subject, e.key.direction, e.key.remote);
    let g = s.policy.get(gk);
    if (!g) s.policy.set(gk, (g = new Map<number, PolicyMapEntry>()));
    g.set(portKeyNumber(e.key), e);
  }
}

/**
 * A canonical text form of a state in which every identity number is replaced by its
 * labels, so that two compilations that numbered identities differently compare equal
 * exactly when they enforce the same thing.
 */
export function canonicalState(s: CompiledState): string {
  const name = (id: number): string =>
    id === 0 ? '*' : `[${(s.identities.get(id)?.labels ?? [`?${id}`]).join(' ')}]`;
  const lines: string[] = [];
  for (const [p, id] of s.ipcache) lines.push(`ipcache ${p} ${name(id)}`);
  for (const e of s.endpoints.values())
    lines.push(`endpoint ${e.pod} ${name(e.identity)} ${e.ips.join(',')}`);
  for (const [id, iso] of s.isolation)
    lines.push(`isolation ${name(id)} in=${iso.ingress} out=${iso.egress}`);
  for (const e of policyEntries(s)) {
    const k = e.key;
    lines.push(
      `policy ${name(k.subject)} ${k.direction} ${name(k.remote)} ${portKeyString(k)} ${e.value.verdict} ${e.value.rules.join(',')} ${JSON.stringify(e.value.l7 ?? null)}`,
    );
  }
  return lines.sort().join('\n');
}
