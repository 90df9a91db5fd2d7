/**
 * `policy explain`: the verdict for one flow and, for each direction, which policy and
 * which rule decided it — read from the map entries the evaluator matched.
 */
import { formatRef, RESERVED_NAMES, type Decision, type FlowVerdict } from '@palisade/core';
import type { ProbePort, SimPod, Simulation } from './simulation.js';

/** The explanation of one side, as printed and as JSON. */
export interface SideExplanation {
  readonly direction: 'egress' | 'ingress';
  readonly endpoint: string;
  readonly identity: number;
  readonly remoteIdentity: number;
  readonly verdict: 'allow' | 'deny';
  readonly reason: string;
  /** The rules that decided (for policy-allow / policy-deny / policy-redirect). */
  readonly rules: readonly {
    readonly policy: string;
    readonly rule: string;
    readonly action: string;
  }[];
  /** The policies that isolate the endpoint (for default-deny). */
  readonly isolatedBy: readonly string[];
  readonly text: string;
}

/** The explanation of a flow. */
export interface FlowExplanation {
  readonly from: string;
  readonly to: string;
  readonly port: number | string;
  readonly protocol: string;
  readonly verdict: 'allow' | 'deny';
  readonly sides: readonly SideExplanation[];
}

function identityName(sim: Simulation, id: number): string {
  if (id === 0) return 'any';
  const reserved = RESERVED_NAMES[id];
  if (reserved && id < 256) return `${id} (${reserved})`;
  return `${id}`;
}

function side(sim: Simulation, d: Decision, portText: string, peer: string): SideExplanation {
  const engine = sim.engine;
  const rules = (d.value?.rules ?? []).map((id) => {
    const r = engine.ruleInfo(id);
    return { policy: r ? formatRef(r.policy) : id, rule: r?.path ?? '?', action: r?.action ?? '?' };
  });
  const isolatedBy = engine.isolatingPolicies(d.endpoint.identity, d.direction).map(formatRef);
  const who = `${d.direction} of ${d.endpoint.pod} (identity ${d.endpoint.identity})`;
  const ruleText = rules.map((r) => `${r.policy} ${r.rule}`).join('; ');
  let text: string;
  switch (d.reason) {
    case 'not-isolated':
      text = `${who}: allow — no policy selects ${d.endpoint.pod} for ${d.direction}, so it is not isolated`;
      break;
    case 'policy-allow':
      text = `${who}: allow — allowed by ${ruleText}`;
      break;
    case 'policy-redirect':
      text = `${who}: allow via the L7 proxy — HTTP rules of ${ruleText}`;
      break;
    case 'policy-deny':
      text = `${who}: deny — denied by ${ruleText} (deny beats allow)`;
      break;
    case 'default-deny':
      text = `${who}: deny — isolated for ${d.direction} by ${isolatedBy.join(', ')}, and no rule allows ${peer} (identity ${identityName(sim, d.remote)}) on ${portText}`;
      break;
  }
  return {
    direction: d.direction,
    endpoint: d.endpoint.pod,
    identity: d.endpoint.identity,
    remoteIdentity: d.remote,
    verdict: d.verdict,
    reason: d.reason,
    rules,
    isolatedBy,
    text,
  };
}

/** Explains one flow. Undefined when it cannot be formed (no address of a common family, unknown port name). */
export function explainFlow(
  sim: Simulation,
  from: SimPod,
  to: SimPod,
  p: ProbePort,
): FlowExplanation | undefined {
  const v: FlowVerdict | undefined = sim.flow(from, to, p);
  if (!v) return undefined;
  const portText = `${sim.resolvePort(to, p)}/${p.protocol}`;
  const sides: SideExplanation[] = [];
  if (v.egress) sides.push(side(sim, v.egress, portText, to.key));
  if (v.ingress) sides.push(side(sim, v.ingress, portText, from.key));
  return {
    from: from.key,
    to: to.key,
    port: p.port,
    protocol: p.protocol,
    verdict: v.verdict,
    sides,
  };
}
