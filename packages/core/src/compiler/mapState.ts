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
import type { Direction, HttpRule } from '../policy/types.js';
import { portPrefixMask, rangeToPrefixes, type PortRange } from '../model/ports.js';

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
export function packPortKey(protocol: number, port: number, prefixLen: number): number {
  return protocol * 2097152 + port * 32 + prefixLen;
}

/** `packPortKey` of a key object. */
export function portKeyNumber(k: PortKey): number {
  return packPortKey(k.protocol, k.port, k.prefixLen);
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

/**
 * Resolves a group's contributions into map entries: expands ranges into prefixes,
 * merges contributions per key, then gives each key the combined value of itself and
 * every key that contains it. Deterministic: the same contributions in any order give
 * the same entries.
 */
export function resolveGroup(
  contribs: readonly Contribution[],
): Map<number, { key: PortKey; value: MapValue }>;
export function resolveGroup(
  contribs: readonly Contribution[],
  base: GroupBase,
): Map<number, { key: GroupBase & PortKey; value: MapValue }>;
export function resolveGroup(
  contribs: readonly Contribution[],
  base?: GroupBase,
): Map<number, { key: PortKey; value: MapValue }> {
  // Keys are built field by field (no spreads) and raw entries hold one value unless
  // several rules hit the same key: this runs for every entry of a full compile.
  const mk = (
    protocol: number,
    port: number,
    prefixLen: number,
  ): PortKey | (GroupBase & PortKey) =>
    base
      ? {
          subject: base.subject,
          direction: base.direction,
          remote: base.remote,
          protocol,
          port,
          prefixLen,
        }
      : { protocol, port, prefixLen };
  const raw = new Map<number, Raw>();
  const put = (protocol: number, port: number, prefixLen: number, v: MapValue): void => {
    const n = packPortKey(protocol, port, prefixLen);
    const e = raw.get(n);
    if (!e) raw.set(n, { protocol, port, prefixLen, value: v, more: undefined });
    else (e.more ??= []).push(v);
  };
  for (const c of contribs) {
    const v = c.value;
    if (c.protocol === 0) put(0, 0, 0, v);
    else if (!c.range) put(c.protocol, 0, 0, v);
    else if (c.range.lo === c.range.hi) put(c.protocol, c.range.lo, 16, v);
    else for (const p of rangeToPrefixes(c.range)) put(c.protocol, p.port, p.len, v);
  }
  for (const e of raw.values()) if (e.more) e.value = combine([e.value, ...e.more])!;
  const out = new Map<number, { key: PortKey; value: MapValue }>();
  if (raw.size === 1) {
    for (const [n, e] of raw)
      out.set(n, { key: mk(e.protocol, e.port, e.prefixLen), value: e.value });
    return out;
  }
  // The prefix lengths present per protocol: only those can contain a key.
  const lens = new Map<number, number[]>();
  for (const e of raw.values())
    if (e.protocol !== 0) {
      const l = lens.get(e.protocol);
      if (!l) lens.set(e.protocol, [e.prefixLen]);
      else if (!l.includes(e.prefixLen)) l.push(e.prefixLen);
    }
  const any = raw.get(0)?.value;
  for (const [n, e] of raw) {
    let chain: MapValue[] | undefined;
    if (e.protocol !== 0) {
      for (const len of lens.get(e.protocol) as number[]) {
        if (len >= e.prefixLen) continue;
        const v = raw.get(packPortKey(e.protocol, e.port & portPrefixMask(len), len))?.value;
        if (v) (chain ??= [e.value]).push(v);
      }
      if (any) (chain ??= [e.value]).push(any);
    }
    out.set(n, {
      key: mk(e.protocol, e.port, e.prefixLen),
      value: chain ? combine(chain)! : e.value,
    });
  }
  return out;
}

/** The group part of a policy map key, as `resolveGroup` stamps it on each entry. */
export interface GroupBase {
  readonly subject: number;
  readonly direction: Direction;
  readonly remote: number;
}

interface Raw {
  readonly protocol: number;
  readonly port: number;
  readonly prefixLen: number;
  value: MapValue;
  more: MapValue[] | undefined;
}

/** True when two values are the same (for diffing). */
export function sameValue(a: MapValue, b: MapValue): boolean {
  return (
    a.verdict === b.verdict &&
    a.rules.length === b.rules.length &&
    a.rules.every((r, i) => r === b.rules[i]) &&
    JSON.stringify(a.l7 ?? null) === JSON.stringify(b.l7 ?? null)
  );
}
