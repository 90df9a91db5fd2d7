/**
 * Codecs for the datapath's binary layouts. Each mirrors one struct of
 * `bpf/palisade.h` field by field and names it; `layouts.privileged.test.ts` checks
 * every size and offset against the object file's BTF. `_be` fields are network order,
 * the rest host order (little-endian on every machine we build for).
 */
import { familyBits, formatAddress, type Address, type Family } from '@palisade/core';

/** Directions as the datapath numbers them (PAL_DIR_*). */
export const DIR = { ingress: 0, egress: 1 } as const;
/** Verdicts as the datapath numbers them (PAL_VERDICT_*). */
export const VERDICT = { allow: 1, deny: 2, redirect: 3 } as const;
/** endpoint_value.flags (PAL_EP_*). */
export const EP_FLAGS = { ingressIsolated: 1, egressIsolated: 2, notReady: 4 } as const;

/** enum pal_reason, by number. */
export const REASONS = [
  'none',
  'not-isolated',
  'policy-allow',
  'policy-redirect',
  'policy-deny',
  'default-deny',
  'established',
  'no-endpoint',
  'not-ready',
] as const;
/** A reason a packet got its verdict. */
export type FlowReason = (typeof REASONS)[number];

/** enum pal_counter, by index. */
export const COUNTERS = [
  'pass_new',
  'pass_established',
  'pass_reply',
  'pass_redirect',
  'pass_control',
  'drop_policy_deny',
  'drop_default_deny',
  'drop_established_deny',
  'drop_no_endpoint',
  'drop_not_ready',
  'drop_malformed',
  'events_sent',
  'events_rate_limited',
  'events_lost',
] as const;
/** PAL_CNT_MAX: slots in the counters map. */
export const COUNTER_SLOTS = 16;

/** PAL_POLICY_PREFIX_ANY_PROTO / _FULL. */
export const POLICY_PREFIX_ANY_PROTO = 72;
/** Bits of a fully specified policy key. */
export const POLICY_PREFIX_FULL = 96;

function writeAddr(buf: Buffer, off: number, a: Address): void {
  buf.fill(0, off, off + 16);
  const bytes = familyBits(a.family) / 8;
  let v = a.addr;
  for (let i = bytes - 1; i >= 0; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readAddr(buf: Buffer, off: number, family: Family): Address {
  let v = 0n;
  const bytes = familyBits(family) / 8;
  for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(buf[off + i] ?? 0);
  return { family, addr: v };
}

/** Field offsets of `struct ipcache_key`. */
const IPCACHE_KEY = { prefixlen: 0, family: 4, pad: 5, addr_be: 8 } as const;
/** Field offsets of `struct ipcache_value`. */
const IPCACHE_VALUE = { identity: 0, flags: 4 } as const;
/** Field offsets of `struct policy_key`. */
const POLICY_KEY = {
  prefixlen: 0,
  subject: 4,
  remote: 8,
  direction: 12,
  protocol: 13,
  port_be: 14,
} as const;
/** Field offsets of `struct policy_value`. */
const POLICY_VALUE = { verdict: 0, flags: 1, proxy_port_be: 2, rule_ref: 4 } as const;
/** Field offsets of `struct endpoint_value`. */
const ENDPOINT_VALUE = { identity: 0, flags: 4 } as const;
/** Field offsets of `struct pal_config`. */
const CONFIG = { policy_epoch: 0, events_per_sec: 4, events_burst: 8, flags: 12 } as const;

/** Mirrors `struct ipcache_key` (LPM: prefixlen counts 32 bits of family+pad first). */
export const ipcacheKey = {
  size: 24,
  encode(buf: Buffer, off: number, family: Family, addr: bigint, prefixLen: number): void {
    const o = IPCACHE_KEY;
    buf.writeUInt32LE(32 + prefixLen, off + o.prefixlen);
    buf[off + o.family] = family;
    buf.fill(0, off + o.pad, off + o.addr_be);
    writeAddr(buf, off + o.addr_be, { family, addr });
  },
  decode(buf: Buffer, off: number): { family: Family; addr: bigint; prefixLen: number } {
    const o = IPCACHE_KEY;
    const family = buf[off + o.family] === 6 ? 6 : 4;
    return {
      family,
      addr: readAddr(buf, off + o.addr_be, family).addr,
      prefixLen: buf.readUInt32LE(off + o.prefixlen) - 32,
    };
  },
};

/** Mirrors `struct ipcache_value`. */
export const ipcacheValue = {
  size: 8,
  encode(buf: Buffer, off: number, identity: number): void {
    buf.writeUInt32LE(identity, off + IPCACHE_VALUE.identity);
    buf.writeUInt32LE(0, off + IPCACHE_VALUE.flags);
  },
  decode(buf: Buffer, off: number): number {
    return buf.readUInt32LE(off + IPCACHE_VALUE.identity);
  },
};

/** The fields of a policy map key (the compiler's PolicyMapKey with numbers). */
export interface PolicyKeyFields {
  readonly subject: number;
  readonly remote: number;
  readonly direction: 0 | 1;
  readonly protocol: number;
  readonly port: number;
  /** Leading port bits (0..16); ignored for protocol 0. */
  readonly portPrefixLen: number;
}

/** Mirrors `struct policy_key` (LPM: 72 bits of subject, remote, direction, then protocol and port). */
export const policyKey = {
  size: 16,
  encode(buf: Buffer, off: number, k: PolicyKeyFields): void {
    policyKey.encodeFields(
      buf,
      off,
      k.subject,
      k.remote,
      k.direction,
      k.protocol,
      k.port,
      k.portPrefixLen,
    );
  },
  /** `encode` with the fields as arguments (no object per key on hot paths). */
  encodeFields(
    buf: Buffer,
    off: number,
    subject: number,
    remote: number,
    direction: 0 | 1,
    protocol: number,
    port: number,
    portPrefixLen: number,
  ): void {
    const o = POLICY_KEY;
    const prefix =
      protocol === 0 ? POLICY_PREFIX_ANY_PROTO : POLICY_PREFIX_ANY_PROTO + 8 + portPrefixLen;
    buf.writeUInt32LE(prefix, off + o.prefixlen);
    buf.writeUInt32LE(subject, off + o.subject);
    buf.writeUInt32LE(remote, off + o.remote);
    buf[off + o.direction] = direction;
    buf[off + o.protocol] = protocol;
    buf.writeUInt16BE(protocol === 0 ? 0 : port, off + o.port_be);
  },
  decode(buf: Buffer, off: number): PolicyKeyFields {
    const o = POLICY_KEY;
    const prefix = buf.readUInt32LE(off + o.prefixlen);
    const anyProto = prefix <= POLICY_PREFIX_ANY_PROTO;
    return {
      subject: buf.readUInt32LE(off + o.subject),
      remote: buf.readUInt32LE(off + o.remote),
      direction: buf[off + o.direction] === 1 ? 1 : 0,
      protocol: anyProto ? 0 : (buf[off + o.protocol] ?? 0),
      port: anyProto ? 0 : buf.readUInt16BE(off + o.port_be),
      portPrefixLen: Math.max(0, prefix - POLICY_PREFIX_ANY_PROTO - 8),
    };
  },
};

/** Mirrors `struct policy_value`. */
export const policyValue = {
  size: 8,
  encode(buf: Buffer, off: number, verdict: number, ruleRef: number, proxyPort = 0): void {
    const o = POLICY_VALUE;
    buf[off + o.verdict] = verdict;
    buf[off + o.flags] = 0;
    buf.writeUInt16BE(proxyPort, off + o.proxy_port_be);
    buf.writeUInt32LE(ruleRef >>> 0, off + o.rule_ref);
  },
  decode(buf: Buffer, off: number): { verdict: number; proxyPort: number; ruleRef: number } {
    const o = POLICY_VALUE;
    return {
      verdict: buf[off + o.verdict] ?? 0,
      proxyPort: buf.readUInt16BE(off + o.proxy_port_be),
      ruleRef: buf.readUInt32LE(off + o.rule_ref),
    };
  },
};

/** Mirrors the endpoints map key (`__u32` ifindex). */
export const endpointKey = {
  size: 4,
  encode(buf: Buffer, off: number, ifindex: number): void {
    buf.writeUInt32LE(ifindex, off);
  },
  decode(buf: Buffer, off: number): number {
    return buf.readUInt32LE(off);
  },
};

/** Mirrors `struct endpoint_value`. */
export const endpointValue = {
  size: 8,
  encode(buf: Buffer, off: number, identity: number, flags: number): void {
    buf.writeUInt32LE(identity, off + ENDPOINT_VALUE.identity);
    buf.writeUInt32LE(flags, off + ENDPOINT_VALUE.flags);
  },
  decode(buf: Buffer, off: number): { identity: number; flags: number } {
    return {
      identity: buf.readUInt32LE(off + ENDPOINT_VALUE.identity),
      flags: buf.readUInt32LE(off + ENDPOINT_VALUE.flags),
    };
  },
};

/** Mirrors `struct ct_key`. */
export const ctKey = { size: 40 };
/** Mirrors `struct ct_value`. */
export const ctValue = { size: 40 };
/** Mirrors `struct pal_ratelimit`. */
export const ratelimitValue = { size: 16 };

/** Mirrors `struct pal_config`. */
export const configValue = {
  size: 16,
  encode(
    buf: Buffer,
    off: number,
    c: { policyEpoch: number; eventsPerSec: number; eventsBurst: number },
  ): void {
    buf.writeUInt32LE(c.policyEpoch >>> 0, off + CONFIG.policy_epoch);
    buf.writeUInt32LE(c.eventsPerSec, off + CONFIG.events_per_sec);
    buf.writeUInt32LE(c.eventsBurst, off + CONFIG.events_burst);
    buf.writeUInt32LE(0, off + CONFIG.flags);
  },
  decode(
    buf: Buffer,
    off: number,
  ): { policyEpoch: number; eventsPerSec: number; eventsBurst: number } {
    return {
      policyEpoch: buf.readUInt32LE(off + CONFIG.policy_epoch),
      eventsPerSec: buf.readUInt32LE(off + CONFIG.events_per_sec),
      eventsBurst: buf.readUInt32LE(off + CONFIG.events_burst),
    };
  },
};

/** A flow event as the ring buffer carries it, decoded. */
export interface RawFlowEvent {
  /** Kernel monotonic time (bpf_ktime_get_ns). */
  readonly tsNs: bigint;
  readonly ifindex: number;
  readonly subject: number;
  readonly remote: number;
  readonly ruleRef: number;
  readonly family: Family;
  readonly protocol: number;
  readonly direction: 'ingress' | 'egress';
  readonly verdict: 'allow' | 'deny' | 'redirect';
  readonly reason: FlowReason;
  readonly icmpType: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly src: string;
  readonly dst: string;
}

/** Offsets of `struct flow_event`'s fields. */
const FLOW_EVENT_OFFSETS = {
  ts_ns: 0,
  ifindex: 8,
  subject: 12,
  remote: 16,
  rule_ref: 20,
  family: 24,
  protocol: 25,
  direction: 26,
  verdict: 27,
  reason: 28,
  icmp_type: 29,
  sport_be: 32,
  dport_be: 34,
  saddr_be: 36,
  daddr_be: 52,
} as const;

/** Mirrors `struct flow_event`. */
export const flowEvent = {
  size: 72,
  decode(buf: Buffer): RawFlowEvent {
    const o = FLOW_EVENT_OFFSETS;
    const family: Family = buf[o.family] === 6 ? 6 : 4;
    const v = buf[o.verdict];
    return {
      tsNs: buf.readBigUInt64LE(o.ts_ns),
      ifindex: buf.readUInt32LE(o.ifindex),
      subject: buf.readUInt32LE(o.subject),
      remote: buf.readUInt32LE(o.remote),
      ruleRef: buf.readUInt32LE(o.rule_ref),
      family,
      protocol: buf[o.protocol] ?? 0,
      direction: buf[o.direction] === 1 ? 'egress' : 'ingress',
      verdict: v === 2 ? 'deny' : v === 3 ? 'redirect' : 'allow',
      reason: REASONS[buf[o.reason] ?? 0] ?? 'none',
      icmpType: buf[o.icmp_type] ?? 0,
      srcPort: buf.readUInt16BE(o.sport_be),
      dstPort: buf.readUInt16BE(o.dport_be),
      src: formatAddress(readAddr(buf, o.saddr_be, family)),
      dst: formatAddress(readAddr(buf, o.daddr_be, family)),
    };
  },
};

/** Every layout with its C struct name and size, for the BTF check. */
export const LAYOUTS: readonly { struct: string; size: number }[] = [
  { struct: 'ipcache_key', size: ipcacheKey.size },
  { struct: 'ipcache_value', size: ipcacheValue.size },
  { struct: 'policy_key', size: policyKey.size },
  { struct: 'policy_value', size: policyValue.size },
  { struct: 'endpoint_value', size: endpointValue.size },
  { struct: 'ct_key', size: ctKey.size },
  { struct: 'ct_value', size: ctValue.size },
  { struct: 'pal_config', size: configValue.size },
  { struct: 'pal_ratelimit', size: ratelimitValue.size },
  { struct: 'flow_event', size: flowEvent.size },
];

/** The offset tables the codecs read and write through, per struct, for the BTF check. */
export const FIELD_OFFSETS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  ipcache_key: IPCACHE_KEY,
  ipcache_value: IPCACHE_VALUE,
  policy_key: POLICY_KEY,
  policy_value: POLICY_VALUE,
  endpoint_value: ENDPOINT_VALUE,
  pal_config: CONFIG,
  flow_event: FLOW_EVENT_OFFSETS,
};
