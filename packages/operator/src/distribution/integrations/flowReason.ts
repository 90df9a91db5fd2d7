/**
 * A flow's verdict in words, side by side — the sentences `palisade policy explain` prints
 * for each side, built from the same engine queries (`ruleInfo`, `isolatingPolicies`).
 */
import {
  formatRef,
  RESERVED_NAMES,
  type Decision,
  type FlowVerdict,
  type PolicyEngine,
} from '@palisade/core';

/** How the two ends and the port of a flow are named in the text. */
export interface FlowNames {
  readonly from: string;
  readonly to: string;
  /** `80/TCP`, `8/ICMP`. */
  readonly port: string;
}

function identityName(id: number): string {
  if (id === 0) return 'any';
  const reserved = RESERVED_NAMES[id];
  return reserved && id < 256 ? `${id} (${reserved})` : `${id}`;
}

/** One side's sentence: who decided, the verdict, and the rules or policies behind it. */
export function decisionText(
  engine: PolicyEngine,
  d: Decision,
  port: string,
  peer: string,
): string {
  const rules = (d.value?.rules ?? [])
    .map((id) => {
      const r = engine.ruleInfo(id);
      return r ? `${formatRef(r.policy)} ${r.path}` : id;
    })
    .join('; ');
  const who = `${d.direction} of ${d.endpoint.pod} (identity ${d.endpoint.identity})`;
  switch (d.reason) {
    case 'not-isolated':
      return `${who}: allow — no policy selects ${d.endpoint.pod} for ${d.direction}, so it is not isolated`;
    case 'policy-allow':
      return `${who}: allow — allowed by ${rules}`;
    case 'policy-redirect':
      return `${who}: allow via the L7 proxy — HTTP rules of ${rules}`;
    case 'policy-deny':
      return `${who}: deny — denied by ${rules} (deny beats allow)`;
    case 'default-deny': {
      const by = engine.isolatingPolicies(d.endpoint.identity, d.direction).map(formatRef);
      return `${who}: deny — isolated for ${d.direction} by ${by.join(', ')}, and no rule allows ${peer} (identity ${identityName(d.remote)}) on ${port}`;
    }
  }
}

/** The whole flow in words: the egress side, then the ingress side, `; `-separated. */
export function flowReason(engine: PolicyEngine, v: FlowVerdict, names: FlowNames): string {
  const sides: string[] = [];
  if (v.egress) sides.push(decisionText(engine, v.egress, names.port, names.to));
  if (v.ingress) sides.push(decisionText(engine, v.ingress, names.port, names.from));
  if (sides.length === 0)
    return `allow — neither ${names.from} nor ${names.to} is an endpoint, so no policy applies`;
  return sides.join('; ');
}
