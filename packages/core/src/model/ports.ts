/**
 * Protocols and ports as the datapath sees them.
 *
 * Invariant: a port range is inclusive on both ends and lies in 0..65535; protocol 0
 * means "any protocol" and then carries no port.
 */

/** Protocols a policy can name. `ANY` matches every protocol. */
export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | 'ICMPv6' | 'ANY';

/** All protocols a policy can name, in a stable order. */
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6', 'ANY'];

/** IANA protocol numbers, as in the IP header. `ANY` is 0, the wildcard in the policy map. */
export const PROTOCOL_NUMBER: Readonly<Record<Protocol, number>> = {
  ANY: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPv6: 58,
  SCTP: 132,
};

/** The protocol name for an IANA number, when it is one we handle. */
export function protocolName(n: number): Protocol | undefined {
  for (const p of PROTOCOLS) if (PROTOCOL_NUMBER[p] === n) return p;
  return undefined;
}

/** True for protocols whose "port" field is an ICMP type (0..255) rather than a port. */
export function isIcmp(p: Protocol): boolean {
  return p === 'ICMP' || p === 'ICMPv6';
}

/** An inclusive port range. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/** A port (or ICMP type) prefix as the LPM policy map stores it: `len` leading bits of 16. */
export interface PortPrefix {
  readonly port: number;
  readonly len: number;
}

/**
 * Splits an inclusive range into the smallest set of 16-bit prefixes that cover it
 * exactly (at most 30 for any range).
 */
export function rangeToPrefixes(r: PortRange): PortPrefix[] {
  const out: PortPrefix[] = [];
  let lo = r.lo;
  while (lo <= r.hi) {
    let size = lo === 0 ? 1 << 16 : lo & -lo;
    while (lo + size - 1 > r.hi) size >>= 1;
    out.push({ port: lo, len: 16 - Math.log2(size) });
    lo += size;
  }
  return out;
}

/** The mask of a port prefix of `len` leading bits (0..16), as the LPM trie compares ports. */
export function portPrefixMask(len: number): number {
  return len === 0 ? 0 : (0xffff << (16 - len)) & 0xffff;
}

/** The range a prefix covers. */
export function prefixToRange(p: PortPrefix): PortRange {
  const size = 1 << (16 - p.len);
  return { lo: p.port, hi: p.port + size - 1 };
}

/** Parses a `--port` argument such as `80/TCP`, `81`, `53/udp` or `serve-80-tcp/TCP`. */
export function parsePortArg(s: string): { port: number | string; protocol: Protocol } | undefined {
  const [portText, protoText] = s.split('/');
  if (!portText) return undefined;
  const proto = (protoText ?? 'TCP').toUpperCase();
  const protocol = PROTOCOLS.find((p) => p.toUpperCase() === proto);
  if (!protocol || protocol === 'ANY') return undefined;
  if (/^\d+$/.test(portText)) {
    const n = Number(portText);
    const max = isIcmp(protocol) ? 255 : 65535;
    if (n > max || (n === 0 && !isIcmp(protocol))) return undefined;
    return { port: n, protocol };
  }
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(portText)
    ? { port: portText, protocol }
    : undefined;
}
