/**
 * The policy map as the kernel holds it, and the resolution of rule contributions into it.
 *
 * The datapath looks a packet up twice in an LPM trie keyed by
 * (subject identity, remote identity, direction, protocol, port prefix): once with the
 * remote's identity and once with 0 (any remote). Within one lookup the longest match
 * wins, so the compiler must make every key carry the verdict that holds for all the
 * traffic it covers. It does so by resolving each key against the keys that contain it
 * (shorter port prefixes, and the protocol wildcard) with this precedence:
 *
 *     deny  >  allow  >  redirect (to the L7 proxy)
 *
 * Deny beats allow everywhere; a plain allow beats an L7 redirect because allows are a
 * union (the least restrictive allow wins). The two lookups are combined with the same
 * precedence (see `combine`). Port ranges are split into prefixes (`rangeToPrefixes`).
 */
import type { HttpRule } from '../policy/types.js';
import { rangeToPrefixes, type PortRange } from '../model/ports.js';

/** What a map entry does. */
export type Verdict = 'allow' | 'deny' | 'redirect';

const LEVEL: Readonly<Record<Verdict, number>> = { redirect: 1, allow: 2, deny: 3 };

/** The port part of a policy map key. Protocol 0 is the wildcard and then port and prefixLen are 0. */
export interface PortKey {
  readonly protocol: number;
  readonly port: number;
  /** Leading bits of the 16-bit port that must match (0..16). */
  readonly prefixLen: number;
}

/** The value of a policy map entry. `rules` are the ids of the rules that decided it. */
export interface MapValue {
  readonly verdict: Verdict;
  readonly rules: readonly string[];
  /** For `redirect`: the union of the L7 rules that apply. */
  readonly l7?: readonly HttpRule[];
}

/** One rule's contribution to a (subject, direction, remote) group. */
export interface Contribution {
  /** IANA protocol number, 0 for any. */
  readonly protocol: number;
  /** Ports (or ICMP types); undefined: all of them. Ignored for protocol 0. */
  readonly range?: PortRange;
  readonly verdict: Verdict;
  readonly ruleId: string;
  readonly l7?: readonly HttpRule[];
}

/** Text form of a port key, unique within a group. */
export function portKeyString(k: PortKey): string {
  return `${k.protocol}:${k.port}/${k.prefixLen}`;
}

/** Combines values with the verdict precedence; rules and L7 rules of the winning verdict are merged. */
export function combine(values: readonly (MapValue | undefined)[]): MapValue | undefined {
  let best: Verdict | undefined;
  for (const v of values) if (v && (!best || LEVEL[v.verdict] > LEVEL[best])) best = v.verdict;
  if (!best) return undefined;
  const rules = new Set<string>();
  const l7 = new Map<string, HttpRule>();
  for (const v of values) {
    if (!v || v.verdict !== best) continue;
    for (const r of v.rules) rules.add(r);
    for (const h of v.l7 ?? []) l7.set(JSON.stringify(h), h);
  }
  const out: MapValue = { verdict: best, rules: [...rules].sort() };
  return best === 'redirect'
    ? { ...out, l7: [...l7.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map((e) => e[1]) }
    : out;
}

/** The keys that contain `k` within one lookup, longest first, excluding `k` itself. */
export function ancestors(k: PortKey): PortKey[] {
  if (k.protocol === 0) return [];
  const out: PortKey[] = [];
  for (let len = k.prefixLen - 1; len >= 0; len--) {
    const mask = len === 0 ? 0 : (0xffff << (16 - len)) & 0xffff;
    out.push({ protocol: k.protocol, port: k.port & mask, prefixLen: len });
  }
  out.push({ protocol: 0, port: 0, prefixLen: 0 });
  return out;
}

/**
 * Resolves a group's contributions into map entries: expands ranges into prefixes,
 * merges contributions per key, then gives each key the combined value of itself and
 * every key that contains it. Deterministic: the same contributions in any order give
 * the same entries.
 */
export function resolveGroup(
  contribs: readonly Contribution[],
): Map<string, { key: PortKey; value: MapValue }>;
export function resolveGroup<B extends object>(
  contribs: readonly Contribution[],
  base: B,
): Map<string, { key: B & PortKey; value: MapValue }>;
export function resolveGroup(
  contribs: readonly Contribution[],
  base: object = {},
): Map<string, { key: PortKey; value: MapValue }> {
  const raw = new Map<string, { key: PortKey; values: MapValue[] }>();
  const put = (key: PortKey, v: MapValue): void => {
    const s = portKeyString(key);
    const e = raw.get(s);
    if (e) e.values.push(v);
    else raw.set(s, { key, values: [v] });
  };
  for (const c of contribs) {
    const v: MapValue = { verdict: c.verdict, rules: [c.ruleId], ...(c.l7 ? { l7: c.l7 } : {}) };
    if (c.protocol === 0) put(ANY_KEY, v);
    else if (!c.range) put({ protocol: c.protocol, port: 0, prefixLen: 0 }, v);
    else
      for (const p of rangeToPrefixes(c.range))
        put({ protocol: c.protocol, port: p.port, prefixLen: p.len }, v);
  }
  const out = new Map<string, { key: PortKey; value: MapValue }>();
  // Fast path, and the common case: one key, nothing can contain it.
  if (raw.size === 1) {
    for (const [s, e] of raw)
      out.set(s, {
        key: { ...base, ...e.key },
        value: e.values.length === 1 ? (e.values[0] as MapValue) : combine(e.values)!,
      });
    return out;
  }
  const own = new Map<string, MapValue>();
  for (const [s, e] of raw)
    own.set(s, e.values.length === 1 ? (e.values[0] as MapValue) : combine(e.values)!);
  for (const [s, e] of raw) {
    const mine = own.get(s) as MapValue;
    let chain: (MapValue | undefined)[] | undefined;
    for (const a of ancestors(e.key)) {
      const v = own.get(portKeyString(a));
      if (v) (chain ??= [mine]).push(v);
    }
    out.set(s, { key: { ...base, ...e.key }, value: chain ? combine(chain)! : mine });
  }
  return out;
}

const ANY_KEY: PortKey = { protocol: 0, port: 0, prefixLen: 0 };

/** True when two values are the same (for diffing). */
export function sameValue(a: MapValue, b: MapValue): boolean {
  return (
    a.verdict === b.verdict &&
    a.rules.length === b.rules.length &&
    a.rules.every((r, i) => r === b.rules[i]) &&
    JSON.stringify(a.l7 ?? null) === JSON.stringify(b.l7 ?? null)
  );
}
