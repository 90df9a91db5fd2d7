/**
 * Connection tracking as the datapath does it: the first packet of a connection is
 * evaluated against policy; once allowed, later packets of the connection in either
 * direction (replies included) pass without a policy lookup — so a policy change does
 * not cut an established flow, unless a deny entry matches it (the datapath re-checks
 * deny entries for established flows, and so does this mirror).
 */
import { PROTOCOL_NUMBER } from '../model/ports.js';
import type { Evaluator, FlowVerdict, Packet } from './evaluator.js';

function tupleKey(src: string, dst: string, proto: number, sport: number, dport: number): string {
  return `${proto}|${src}|${sport}|${dst}|${dport}`;
}

/** A conntrack table in front of an evaluator. */
export class Conntrack {
  private readonly flows = new Set<string>();

  /** Decides a packet, creating a connection entry when a new flow is allowed. */
  process(ev: Evaluator, p: Packet): FlowVerdict & { established: boolean; reply: boolean } {
    const proto = typeof p.protocol === 'number' ? p.protocol : PROTOCOL_NUMBER[p.protocol];
    const sport = p.srcPort ?? 0;
    const fwd = tupleKey(p.src, p.dst, proto, sport, p.dstPort);
    const rev = tupleKey(p.dst, p.src, proto, p.dstPort, sport);
    const known = this.flows.has(fwd) ? 'fwd' : this.flows.has(rev) ? 'rev' : undefined;
    if (known) {
      // Established: only an explicit deny on the original direction cuts it.
      const orig: Packet =
        known === 'fwd'
          ? p
          : { src: p.dst, dst: p.src, protocol: proto, dstPort: sport, srcPort: p.dstPort };
      const v = ev.evaluate(orig);
      const denied = v.egress?.reason === 'policy-deny' || v.ingress?.reason === 'policy-deny';
      if (denied) {
        this.flows.delete(known === 'fwd' ? fwd : rev);
        return { ...v, verdict: 'deny', established: true, reply: known === 'rev' };
      }
      return { ...v, verdict: 'allow', established: true, reply: known === 'rev' };
    }
    const v = ev.evaluate(p);
    if (v.verdict === 'allow') this.flows.add(fwd);
    return { ...v, established: false, reply: false };
  }
}
