/**
 * The TypeScript mirror of the datapath's verdict: the same lookups, in the same order,
 * over the same compiled entries, so the simulator, the tests and the kernel agree.
 *
 * For a packet from A to B, the egress side of A (if A is a local endpoint) and the
 * ingress side of B (if B is one) are each decided like this:
 *  1. remote identity := ipcache LPM lookup of the other address (world if none);
 *  2. L1 := LPM lookup of (subject, remote, direction, protocol, port) in the policy map;
 *     L2 := the same with remote 0 (any);
 *  3. v := combine(L1, L2) with deny > allow > redirect;
 *  4. deny → drop; allow → pass; redirect → pass to the L7 proxy;
 *     no entry → drop if the endpoint is isolated in this direction, else pass.
 * The packet passes when both sides pass.
 */
import { portPrefixMask, PROTOCOL_NUMBER, type Protocol } from '../model/ports.js';
import { parseAddress } from '../model/cidr.js';
import type { Direction } from '../policy/types.js';
import {
  policyGroupKey,
  type CompiledState,
  type EndpointInfo,
  type PolicyMapEntry,
} from '../compiler/compiledState.js';
import { combine, packPortKey, type MapValue } from '../compiler/mapState.js';
import { IpcacheIndex } from './ipcacheIndex.js';

/** A packet (the first packet of a connection, or any packet for stateless checks). */
export interface Packet {
  readonly src: string;
  readonly dst: string;
  /** Protocol name or IANA number. */
  readonly protocol: Protocol | number;
  /** Destination port, or ICMP type. */
  readonly dstPort: number;
  /** Source port (used by conntrack only). */
  readonly srcPort?: number;
}

/** Why one side decided what it did. */
export type DecisionReason =
  'not-isolated' | 'policy-allow' | 'policy-redirect' | 'policy-deny' | 'default-deny';

/** The verdict of one side (egress of the source, or ingress of the destination). */
export interface Decision {
  readonly direction: Direction;
  readonly verdict: 'allow' | 'deny';
  readonly reason: DecisionReason;
  /** The endpoint whose policy decided. */
  readonly endpoint: EndpointInfo;
  /** The identity of the other end, as the ipcache gave it. */
  readonly remote: number;
  /** The entries the two lookups matched (remote-specific first, then any-remote). */
  readonly matched: readonly PolicyMapEntry[];
  /** The combined value, when some entry matched. */
  readonly value?: MapValue;
}

/** The verdict for a packet. */
export interface FlowVerdict {
  readonly verdict: 'allow' | 'deny';
  /** True when the packet would be handed to the L7 proxy. */
  readonly redirect: boolean;
  readonly egress?: Decision;
  readonly ingress?: Decision;
}

/** Evaluates packets against a compiled state. Build one per state; it indexes the ipcache. */
export class Evaluator {
  private readonly ipcache: IpcacheIndex;
  private readonly endpointsByIp = new Map<string, EndpointInfo>();

  constructor(private readonly state: CompiledState) {
    this.ipcache = new IpcacheIndex(state.ipcache);
    for (const ep of state.endpoints.values())
      for (const ip of ep.ips) {
        const a = parseAddress(ip);
        if (a) this.endpointsByIp.set(`${a.family}:${a.addr}`, ep);
      }
  }

  /** The identity the datapath gives an address. */
  identityOf(ip: string): number {
    return this.ipcache.lookup(ip).identity;
  }

  /** The local endpoint with this address, if any. */
  endpointOf(ip: string): EndpointInfo | undefined {
    const a = parseAddress(ip);
    return a ? this.endpointsByIp.get(`${a.family}:${a.addr}`) : undefined;
  }

  /** One LPM lookup in the policy map: the longest matching port prefix, then the protocol wildcard. */
  lookup(
    subject: number,
    direction: Direction,
    remote: number,
    protocol: number,
    port: number,
  ): PolicyMapEntry | undefined {
    const group = this.state.policy.get(policyGroupKey(subject, direction, remote));
    if (!group) return undefined;
    for (let len = 16; len >= 0; len--) {
      const e = group.get(packPortKey(protocol, port & portPrefixMask(len), len));
      if (e) return e;
    }
    return group.get(packPortKey(0, 0, 0));
  }

  /** Decides one side for an endpoint. */
  decide(
    endpoint: EndpointInfo,
    direction: Direction,
    remoteIp: string,
    protocol: number,
    port: number,
  ): Decision {
    const remote = this.identityOf(remoteIp);
    const l1 = this.lookup(endpoint.identity, direction, remote, protocol, port);
    const l2 =
      remote === 0 ? undefined : this.lookup(endpoint.identity, direction, 0, protocol, port);
    const matched = [l1, l2].filter((e): e is PolicyMapEntry => e !== undefined);
    const value = combine(matched.map((e) => e.value));
    const base = { direction, endpoint, remote, matched };
    if (value) {
      switch (value.verdict) {
        case 'deny':
          return { ...base, value, verdict: 'deny', reason: 'policy-deny' };
        case 'allow':
          return { ...base, value, verdict: 'allow', reason: 'policy-allow' };
        case 'redirect':
          return { ...base, value, verdict: 'allow', reason: 'policy-redirect' };
      }
    }
    const isolated = this.state.isolation.get(endpoint.identity)?.[direction] ?? false;
    return isolated
      ? { ...base, verdict: 'deny', reason: 'default-deny' }
      : { ...base, verdict: 'allow', reason: 'not-isolated' };
  }

  /** Decides a packet: egress of the source endpoint and ingress of the destination endpoint. */
  evaluate(p: Packet): FlowVerdict {
    const protocol = typeof p.protocol === 'number' ? p.protocol : PROTOCOL_NUMBER[p.protocol];
    const srcEp = this.endpointOf(p.src);
    const dstEp = this.endpointOf(p.dst);
    const egress = srcEp ? this.decide(srcEp, 'egress', p.dst, protocol, p.dstPort) : undefined;
    const ingress = dstEp ? this.decide(dstEp, 'ingress', p.src, protocol, p.dstPort) : undefined;
    const verdict =
      (egress?.verdict ?? 'allow') === 'allow' && (ingress?.verdict ?? 'allow') === 'allow'
        ? 'allow'
        : 'deny';
    const redirect =
      verdict === 'allow' &&
      (egress?.reason === 'policy-redirect' || ingress?.reason === 'policy-redirect');
    return { verdict, redirect, ...(egress ? { egress } : {}), ...(ingress ? { ingress } : {}) };
  }
}
