/**
 * The offline simulator: objects in, verdicts out — through the same compiler and the same
 * evaluator the datapath mirrors, never a separate shortcut.
 *
 * A bad object is reported (with its source, the object and the field) and left out;
 * it never changes the verdicts of the others.
 */
import {
  Evaluator,
  InMemoryAllocator,
  parseObject,
  PolicyEngine,
  PolicyError,
  formatRef,
  type Decision,
  type FlowVerdict,
  type NamespaceInput,
  type PodInput,
  type Protocol,
} from '@palisade/core';
import type { LoadedObject } from './load.js';

/** A port to probe: a number, or a container port name resolved on each destination. */
export interface ProbePort {
  readonly port: number | string;
  readonly protocol: Exclude<Protocol, 'ANY'>;
}

/** A pod of the simulation. */
export interface SimPod {
  /** `namespace/name`. */
  readonly key: string;
  readonly ips: readonly string[];
  readonly ports: readonly {
    readonly name: string;
    readonly port: number;
    readonly protocol: string;
  }[];
}

/** One line of `policy simulate -o json`. */
export interface SimResult {
  readonly from: string;
  readonly to: string;
  readonly port: number | string;
  readonly protocol: string;
  readonly verdict: 'allow' | 'deny';
  /** Why the source's egress side decided as it did. */
  readonly egress: string;
  /** Why the destination's ingress side decided as it did. */
  readonly ingress: string;
  /** True when the flow would go through the L7 proxy. */
  readonly l7?: boolean;
}

/** A problem with one input object. */
export interface ObjectProblem {
  readonly source: string;
  readonly message: string;
}

/** A compiled view of a set of objects. */
export class Simulation {
  readonly engine = new PolicyEngine({ numbering: new InMemoryAllocator() });
  readonly pods: SimPod[] = [];
  readonly errors: ObjectProblem[] = [];
  readonly warnings: ObjectProblem[] = [];
  readonly evaluator: Evaluator;

  constructor(objects: readonly LoadedObject[]) {
    const namespaces = new Map<string, NamespaceInput>();
    const pods = new Map<string, { input: PodInput; ports: SimPod['ports'] }>();
    for (const { object, source } of objects) {
      try {
        const parsed = parseObject(object);
        switch (parsed.kind) {
          case 'Namespace':
            namespaces.set(parsed.namespace.name, parsed.namespace);
            break;
          case 'Pod':
            pods.set(`${parsed.pod.namespace}/${parsed.pod.name}`, {
              input: parsed.pod,
              ports: parsed.ports,
            });
            break;
          case 'Policy':
            this.engine.upsertPolicy(parsed.policy);
            for (const w of this.engine.policyWarnings(parsed.policy.key))
              this.warnings.push({ source, message: `${formatRef(parsed.ref)}: ${w}` });
            break;
        }
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        if (err.code === 'UnsupportedKind')
          this.warnings.push({ source, message: `skipped: ${err.message}` });
        else this.errors.push({ source, message: err.message });
      }
    }
    for (const ns of namespaces.values()) this.engine.upsertNamespace(ns);
    let synthetic = 0;
    for (const key of [...pods.keys()].sort()) {
      const p = pods.get(key)!;
      let input = p.input;
      if (input.hostNetwork) {
        this.warnings.push({
          source: key,
          message: `pod ${key} uses the host network: policy does not apply to it; left out`,
        });
        continue;
      }
      if (input.ips.length === 0) {
        const n = synthetic++;
        const ip = `198.18.${(n >> 8) & 255}.${n & 255}`;
        this.warnings.push({
          source: key,
          message: `pod ${key} has no status.podIP; simulating it with ${ip}`,
        });
        input = { ...input, ips: [ip] };
      }
      this.engine.upsertPod(input);
      this.pods.push({ key, ips: input.ips, ports: p.ports });
    }
    this.engine.flush();
    this.evaluator = new Evaluator(this.engine.compiled);
  }

  /** Finds a pod by `namespace/name`. */
  pod(key: string): SimPod | undefined {
    return this.pods.find((p) => p.key === key);
  }

  /** The source address to use towards `to`: same family as the destination's first address. */
  private addresses(from: SimPod, to: SimPod): { src: string; dst: string } | undefined {
    for (const dst of to.ips) {
      const v6 = dst.includes(':');
      const src = from.ips.find((ip) => ip.includes(':') === v6);
      if (src) return { src, dst };
    }
    return undefined;
  }

  /** Resolves a probe port on a destination pod (names resolve per pod). */
  resolvePort(to: SimPod, p: ProbePort): number | undefined {
    if (typeof p.port === 'number') return p.port;
    return to.ports.find((c) => c.name === p.port && c.protocol === p.protocol)?.port;
  }

  /**
   * Evaluates one flow; undefined when it cannot be formed (no common address family,
   * unknown port name). `evaluator` defaults to this simulation's own compiled state.
   */
  flow(
    from: SimPod,
    to: SimPod,
    p: ProbePort,
    evaluator: Evaluator = this.evaluator,
  ): FlowVerdict | undefined {
    const addrs = this.addresses(from, to);
    const port = this.resolvePort(to, p);
    if (!addrs || port === undefined) return undefined;
    return evaluator.evaluate({ ...addrs, protocol: p.protocol, dstPort: port });
  }

  /** Every ordered pair of distinct pods, for every port (against `evaluator`, by default our own). */
  simulate(ports: readonly ProbePort[], evaluator: Evaluator = this.evaluator): SimResult[] {
    const out: SimResult[] = [];
    for (const p of ports)
      for (const from of this.pods)
        for (const to of this.pods) {
          if (from === to) continue;
          const v = this.flow(from, to, p, evaluator);
          out.push({
            from: from.key,
            to: to.key,
            port: p.port,
            protocol: p.protocol,
            verdict: v?.verdict ?? 'deny',
            egress: v ? reasonText(v.egress) : 'unreachable',
            ingress: v ? reasonText(v.ingress) : 'unreachable',
            ...(v?.redirect ? { l7: true } : {}),
          });
        }
    return out;
  }

  /** Ports to probe when none are given: every declared container port, else 80/TCP. */
  defaultPorts(): ProbePort[] {
    const seen = new Map<string, ProbePort>();
    for (const pod of this.pods)
      for (const c of pod.ports) {
        const protocol = c.protocol as ProbePort['protocol'];
        seen.set(`${c.port}/${protocol}`, { port: c.port, protocol });
      }
    const list = [...seen.values()].sort(
      (a, b) =>
        (a.port as number) - (b.port as number) ||
        (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0),
    );
    return list.length > 0 ? list : [{ port: 80, protocol: 'TCP' }];
  }
}

function reasonText(d: Decision | undefined): string {
  return d ? d.reason : 'not-an-endpoint';
}
