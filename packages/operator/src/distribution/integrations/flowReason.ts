/**
 * A flow's verdict in words, side by side — the sentences `palisade policy explain` prints
 * for each side (core's `explainDecision`).
 */
import { explainDecision, type FlowVerdict, type PolicyEngine } from '@palisade/core';

/** How the two ends and the port of a flow are named in the text. */
export interface FlowNames {
  readonly from: string;
  readonly to: string;
  /** `80/TCP`, `8/ICMP`. */
  readonly port: string;
}

/** The whole flow in words: the egress side, then the ingress side, `; `-separated. */
export function flowReason(engine: PolicyEngine, v: FlowVerdict, names: FlowNames): string {
  const sides: string[] = [];
  if (v.egress) sides.push(explainDecision(engine, v.egress, names.port, names.to).text);
  if (v.ingress) sides.push(explainDecision(engine, v.ingress, names.port, names.from).text);
  if (sides.length === 0)
    return `allow — neither ${names.from} nor ${names.to} is an endpoint, so no policy applies`;
  return sides.join('; ');
}
