/**
 * IPv4 and IPv6 addresses and prefixes as numbers, for exact containment tests.
 *
 * Parsing follows Go's `net.ParseCIDR`, which is what the apiserver uses for
 * NetworkPolicy `ipBlock`: host bits after the mask are accepted and dropped
 * (`10.0.1.7/24` is the prefix `10.0.1.0/24`).
 */

/** An address family. */
export type Family = 4 | 6;

/** A prefix with its host bits cleared. `addr` holds the address as an unsigned integer. */
export interface Prefix {
  readonly family: Family;
  readonly addr: bigint;
  readonly len: number;
}

/** A single address. */
export interface Address {
  readonly family: Family;
  readonly addr: bigint;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

/** Number of bits in an address of this family. */
export function familyBits(f: Family): number {
  return BITS[f];
}

function parseV4(s: string): bigint | undefined {
  // One pass over the characters (this runs for every ipcache prefix a node receives).
  let v = 0;
  let octets = 0;
  let n = 0;
  let digits = 0;
  let leadingZero = false;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // '.' closes the last octet
    if (c === 46) {
      // Go rejects leading zeros in IPv4 (ambiguous octal).
      if (digits === 0 || (leadingZero && digits > 1) || n > 255 || ++octets > 4) return undefined;
      v = v * 256 + n;
      n = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57 || ++digits > 3) return undefined;
    if (digits === 1) leadingZero = c === 48;
    n = n * 10 + (c - 48);
  }
  return octets === 4 ? BigInt(v) : undefined;
}

function parseV6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined;
  let head = s;
  let tailV4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const toGroups = (t: string): string[] | undefined =>
    t === ''
      ? []
      : t.split(':').every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))
        ? t.split(':')
        : undefined;
  const left = toGroups(dbl[0] ?? '');
  const right = dbl.length === 2 ? toGroups(dbl[1] ?? '') : [];
  if (!left || !right) return undefined;
  let groups: string[];
  if (dbl.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

/** Parses an IPv4 or IPv6 address; undefined when it is not one. */
export function parseAddress(s: string): Address | undefined {
  if (s.includes(':')) {
    const a = parseV6(s);
    return a === undefined ? undefined : { family: 6, addr: a };
  }
  const a = parseV4(s);
  return a === undefined ? undefined : { family: 4, addr: a };
}

function mask(f: Family, len: number): bigint {
  const bits = BigInt(BITS[f]);
  return len === 0 ? 0n : ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(len))) - 1n);
}

/** Parses `addr/len`; undefined when it is not a CIDR. Host bits are cleared. */
export function parsePrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const a = parseAddress(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (!a || !/^\d{1,3}$/.test(lenText)) return undefined;
  if (lenText.length > 1 && lenText.startsWith('0')) return undefined;
  const len = Number(lenText);
  if (len > BITS[a.family]) return undefined;
  return { family: a.family, addr: a.addr & mask(a.family, len), len };
}

/** The /32 or /128 prefix of one address. */
export function hostPrefix(a: Address): Prefix {
  return { family: a.family, addr: a.addr, len: BITS[a.family] };
}

/** True when `outer` contains the whole of `inner` (a prefix contains itself). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family &&
    outer.len <= inner.len &&
    (inner.addr & mask(outer.family, outer.len)) === outer.addr
  );
}

/** True when `p` contains the address `a`. */
export function prefixContainsAddress(p: Prefix, a: Address): boolean {
  return p.family === a.family && (a.addr & mask(p.family, p.len)) === p.addr;
}

/** Formats an address canonically (IPv6 in RFC 5952 short form). */
export function formatAddress(a: Address): string {
  if (a.family === 4) {
    const v = Number(a.addr);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.addr >> BigInt(i * 16)) & 0xffffn));
  // Longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Formats a prefix canonically, e.g. `10.0.0.0/8`. */
export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p)}/${p.len}`;
}

/** Orders prefixes: IPv4 first, then by address, then shorter first. */
export function comparePrefix(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  return a.len - b.len;
}
