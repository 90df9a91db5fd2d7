/**
 * `policy explain`: the verdict for one flow and, for each direction, which policy and
 * which rule decided it — read from the map entries the evaluator matched.
 */
import { explainDecision, type Decision, type FlowVerdict } from '@palisade/core';
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

function side(sim: Simulation, d: Decision, portText: string, peer: string): SideExplanation {
  const { rules, isolatedBy, text } = explainDecision(sim.engine, d, portText, peer);
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
