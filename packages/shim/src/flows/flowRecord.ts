/**
 * A flow event as users see it: the kernel's event plus names — the endpoint's pod, the
 * identities' labels, the other end's pod when it is known, and the rules that decided.
 * The shape is meant to carry over to the cluster-wide observe API.
 */
import { protocolName } from '@palisade/core';
import type { FlowReason, RawFlowEvent } from '../bpf/layouts.js';

/** One flow record. */
export interface FlowRecord {
  /** Wall-clock time (ISO 8601) the shim read the event. */
  readonly time: string;
  readonly node: string;
  /** `namespace/name` of the endpoint whose policy decided. */
  readonly endpoint?: string;
  readonly direction: 'ingress' | 'egress';
  readonly verdict: 'allow' | 'deny' | 'redirect';
  readonly reason: FlowReason;
  readonly protocol: string;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly icmpType?: number;
  /** The other end's pod, when known. */
  readonly remotePod?: string;
  readonly subjectIdentity: number;
  readonly remoteIdentity: number;
  readonly subjectLabels?: readonly string[];
  readonly remoteLabels?: readonly string[];
  /** Ids of the rules that decided (`Kind/ns/name:path`), empty for default verdicts. */
  readonly rules: readonly string[];
}

/** What a record needs to be named. */
export interface FlowNames {
  readonly node: string;
  endpointOf(ifindex: number): string | undefined;
  podOf(ip: string): string | undefined;
  labelsOf(identity: number): readonly string[] | undefined;
  rulesOf(ruleRef: number): readonly string[] | undefined;
}

/** Names a raw event. */
export function flowRecord(e: RawFlowEvent, names: FlowNames, now = new Date()): FlowRecord {
  const other = e.direction === 'egress' ? e.dst : e.src;
  const icmp = e.protocol === 1 || e.protocol === 58;
  const endpoint = names.endpointOf(e.ifindex);
  const remotePod = names.podOf(other);
  const subjectLabels = names.labelsOf(e.subject);
  const remoteLabels = names.labelsOf(e.remote);
  return {
    time: now.toISOString(),
    node: names.node,
    ...(endpoint !== undefined ? { endpoint } : {}),
    direction: e.direction,
    verdict: e.verdict,
    reason: e.reason,
    protocol: protocolName(e.protocol) ?? String(e.protocol),
    src: e.src,
    dst: e.dst,
    srcPort: icmp ? 0 : e.srcPort,
    dstPort: icmp ? 0 : e.dstPort,
    ...(icmp ? { icmpType: e.icmpType } : {}),
    ...(remotePod !== undefined ? { remotePod } : {}),
    subjectIdentity: e.subject,
    remoteIdentity: e.remote,
    ...(subjectLabels ? { subjectLabels } : {}),
    ...(remoteLabels ? { remoteLabels } : {}),
    rules: e.ruleRef ? (names.rulesOf(e.ruleRef) ?? []) : [],
  };
}
