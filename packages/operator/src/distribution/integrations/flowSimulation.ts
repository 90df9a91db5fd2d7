/**
 * Simulate: one flow through the core evaluator, exactly as `palisade policy simulate`
 * runs it — the source address is the source pod's first address of the destination
 * address's family, the port is parsed like the CLI's `--port`, and the verdict is the
 * evaluator's (egress of the source endpoint AND ingress of the destination endpoint).
 */
import {
  parseAddress,
  parsePortArg,
  type CompiledState,
  type EndpointInfo,
  type Evaluator,
  type PolicyEngine,
} from '@palisade/core';
import type { SimulateRequest__Output, SimulateResponse } from '@palisade/api';
import { IntegrationsError } from './integrationsError.js';
import { flowReason } from './flowReason.js';

/** One end of a flow: a pod of the compiled state, or a bare address. */
export type FlowEnd =
  | { readonly kind: 'pod'; readonly name: string; readonly endpoint: EndpointInfo }
  | { readonly kind: 'ip'; readonly name: string };

/** Parses `from` / `to`: an IP address, or `namespace/name` of an endpoint. */
export function parseFlowEnd(state: CompiledState, field: string, text: string): FlowEnd {
  if (parseAddress(text)) return { kind: 'ip', name: text };
  if (!/^[^/\s]+\/[^/\s]+$/.test(text))
    throw new IntegrationsError(
      'INVALID_ARGUMENT',
      `${field}: ${JSON.stringify(text)} is neither namespace/name of a pod nor an IP address`,
    );
  const endpoint = state.endpoints.get(text);
  if (!endpoint)
    throw new IntegrationsError(
      'NOT_FOUND',
      `${field}: pod ${text} is not an endpoint of the compiled state (no such pod, or it uses the host network)`,
    );
  return { kind: 'pod', name: text, endpoint };
}

function addressesOf(end: FlowEnd): readonly string[] {
  return end.kind === 'pod' ? end.endpoint.ips : [end.name];
}

/** The addresses of a flow: the destination's first address the source has a family for. */
export function flowAddresses(from: FlowEnd, to: FlowEnd): { src: string; dst: string } {
  for (const [field, end] of [
    ['from', from],
    ['to', to],
  ] as const)
    if (addressesOf(end).length === 0)
      throw new IntegrationsError(
        'FAILED_PRECONDITION',
        `${field}: pod ${end.name} has no IP address yet`,
      );
  for (const dst of addressesOf(to)) {
    const v6 = dst.includes(':');
    const src = addressesOf(from).find((ip) => ip.includes(':') === v6);
    if (src) return { src, dst };
  }
  throw new IntegrationsError(
    'INVALID_ARGUMENT',
    `${to.name} has no address of the family of ${from.name}'s addresses`,
  );
}

/** Simulates one flow; throws IntegrationsError for a request it cannot answer. */
export function simulateFlow(
  engine: PolicyEngine,
  evaluator: Evaluator,
  req: SimulateRequest__Output,
): SimulateResponse {
  const state = engine.compiled;
  const from = parseFlowEnd(state, 'from', req.from);
  const to = parseFlowEnd(state, 'to', req.to);
  const port = parsePortArg(`${req.port}/${req.protocol}`);
  if (!port || typeof port.port !== 'number')
    throw new IntegrationsError(
      'INVALID_ARGUMENT',
      `protocol/port ${JSON.stringify(req.protocol)}/${req.port}: expected TCP, UDP or SCTP with a port 1–65535, or ICMP or ICMPv6 with a type 0–255`,
    );
  const { src, dst } = flowAddresses(from, to);
  const v = evaluator.evaluate({ src, dst, protocol: port.protocol, dstPort: port.port });
  const identity = (end: FlowEnd, ip: string): number =>
    end.kind === 'pod' ? end.endpoint.identity : evaluator.identityOf(ip);
  return {
    verdict: v.verdict,
    reason: flowReason(engine, v, {
      from: from.name,
      to: to.name,
      port: `${port.port}/${port.protocol}`,
    }),
    egressRules: [...(v.egress?.value?.rules ?? [])],
    ingressRules: [...(v.ingress?.value?.rules ?? [])],
    fromIdentity: identity(from, src),
    toIdentity: identity(to, dst),
  };
}
