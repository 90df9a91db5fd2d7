/**
 * Test helpers: compile a list of Kubernetes objects with the engine, and build small
 * objects tersely.
 */
import { feedEngine } from '../objects/feedEngine.js';
import { parseObject } from '../objects/parseObject.js';
import { PolicyEngine, type EngineOptions } from '../compiler/engine.js';
import { Evaluator, type FlowVerdict } from '../evaluator/evaluator.js';

/** Feeds objects to a new engine and flushes. */
export function compile(
  objects: readonly unknown[],
  options: EngineOptions = {},
): { engine: PolicyEngine; ev: Evaluator } {
  const engine = new PolicyEngine(options);
  feed(engine, objects);
  engine.flush();
  return { engine, ev: new Evaluator(engine.compiled) };
}

/** Upserts each object into an engine. */
export function feed(engine: PolicyEngine, objects: readonly unknown[]): void {
  feedEngine(
    engine,
    objects.map((o) => parseObject(o)),
  );
}

/** A Namespace object. */
export function ns(name: string, labels: Record<string, string> = {}): unknown {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** A Pod object with one IP and optional named ports. */
export function pod(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  ip: string,
  ports: { name?: string; containerPort: number; protocol?: string }[] = [],
): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name, labels },
    spec: { containers: [{ name: 'c', ports }] },
    status: { podIP: ip.split(',')[0], podIPs: ip.split(',').map((x) => ({ ip: x })) },
  };
}

/** A PalisadeNetworkPolicy object. */
export function pnp(namespace: string, name: string, spec: Record<string, unknown>): unknown {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { namespace, name },
    spec,
  };
}

/** A NetworkPolicy object. */
export function np(namespace: string, name: string, spec: Record<string, unknown>): unknown {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace, name },
    spec,
  };
}

/** Shorthand: the verdict of one TCP/UDP/… packet. */
export function verdict(
  ev: Evaluator,
  src: string,
  dst: string,
  dstPort: number,
  protocol: 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | 'ICMPv6' = 'TCP',
): FlowVerdict['verdict'] {
  return ev.evaluate({ src, dst, protocol, dstPort }).verdict;
}
