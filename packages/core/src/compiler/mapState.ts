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
  /** What the rule does; one object per rule, shared by all its contributions. */
  readonly value: MapValue;
}

/** The map value of one rule on its own. */
export function ruleValue(verdict: Verdict, ruleId: string, l7?: readonly HttpRule[]): MapValue {
  return verdict === 'redirect' && l7
    ? { verdict, rules: [ruleId], l7 }
    : { verdict, rules: [ruleId] };
}

/** Text form of a port key, unique within a group. */
export function portKeyString(k: PortKey): string {
  return `${k.protocol}:${k.port}/${k.prefixLen}`;
}

/** A port key packed into one small integer (protocol 8 bits, port 16, prefix length 5), unique within a group. */
export function portKeyNumber(k: PortKey): number {
  return k.protocol * 2097152 + k.port * 32 + k.prefixLen;
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
): Map<number, { key: PortKey; value: MapValue }>;
export function resolveGroup<B extends object>(
  contribs: readonly Contribution[],
  base: B,
): Map<number, { key: B & PortKey; value: MapValue }>;
export function resolveGroup(
  contribs: readonly Contribution[],
  base: object = {},
): Map<number, { key: PortKey; value: MapValue }> {
  const out = new Map<number, { key: PortKey; value: MapValue }>();
  // Fast path, and the common case: one contribution covering one key.
  if (contribs.length === 1) {
    const c = contribs[0] as Contribution;
    const key =
      c.protocol === 0
        ? ANY_KEY
        : !c.range
          ? { protocol: c.protocol, port: 0, prefixLen: 0 }
          : undefined;
    if (key) {
      out.set(portKeyNumber(key), { key: { ...base, ...key }, value: c.value });
      return out;
    }
  }
  const raw = new Map<number, { key: PortKey; values: MapValue[] }>();
  const put = (key: PortKey, v: MapValue): void => {
    const n = portKeyNumber(key);
    const e = raw.get(n);
    if (e) e.values.push(v);
    else raw.set(n, { key, values: [v] });
  };
  for (const c of contribs) {
    const v = c.value;
    if (c.protocol === 0) put(ANY_KEY, v);
    else if (!c.range) put({ protocol: c.protocol, port: 0, prefixLen: 0 }, v);
    else if (c.range.lo === c.range.hi)
      put({ protocol: c.protocol, port: c.range.lo, prefixLen: 16 }, v);
    else
      for (const p of rangeToPrefixes(c.range))
        put({ protocol: c.protocol, port: p.port, prefixLen: p.len }, v);
  }
  const own = new Map<number, MapValue>();
  for (const [n, e] of raw)
    own.set(n, e.values.length === 1 ? (e.values[0] as MapValue) : combine(e.values)!);
  if (raw.size === 1) {
    for (const [n, e] of raw)
      out.set(n, { key: { ...base, ...e.key }, value: own.get(n) as MapValue });
    return out;
  }
  // The prefix lengths present per protocol: only those can contain a key (no allocation
  // per candidate; this loop runs for every entry of a full compile).
  const lens = new Map<number, number[]>();
  for (const e of raw.values())
    if (e.key.protocol !== 0) {
      const l = lens.get(e.key.protocol);
      if (!l) lens.set(e.key.protocol, [e.key.prefixLen]);
      else if (!l.includes(e.key.prefixLen)) l.push(e.key.prefixLen);
    }
  const any = own.get(0);
  for (const [n, e] of raw) {
    const mine = own.get(n) as MapValue;
    let chain: MapValue[] | undefined;
    const k = e.key;
    if (k.protocol !== 0) {
      for (const len of lens.get(k.protocol) as number[]) {
        if (len >= k.prefixLen) continue;
        const mask = len === 0 ? 0 : (0xffff << (16 - len)) & 0xffff;
        const v = own.get(k.protocol * 2097152 + (k.port & mask) * 32 + len);
        if (v) (chain ??= [mine]).push(v);
      }
      if (any) (chain ??= [mine]).push(any);
    }
    out.set(n, { key: { ...base, ...k }, value: chain ? combine(chain)! : mine });
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
