/**
 * Shared kit of the cluster suites: a lab, pods pinned to nodes, objects applied with
 * kubectl, the cluster read back from the apiserver into the offline simulator, endpoints
 * outside the pod network (a host in "the world", the nodes' own addresses), and the
 * three-way check those suites make: the expected truth, the kernel (real probes) and the
 * simulator fed with what the apiserver holds must all agree.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseText, Simulation } from '@palisade/cli';
import { Evaluator } from '@palisade/core';
import { Resources, type KubeObject } from '@palisade/operator';
import { ProbeAgent, type ServeProtocol } from '@palisade/shim/testing';
import { Lab, until, type LabNode } from '../lab/lab.js';
import { ipAsync, ipSync, slotPrefix } from '../lab/labNetwork.js';
import type { LabProbePort, ProbePod } from '../lab/prober.js';
import {
  describeMismatches,
  probeUntil,
  type Expect,
  type ProbeUntilResult,
} from '../lab/reachability.js';

/** One flow of a truth table. */
export type Cell = Parameters<Expect>[0];

/** Starts a lab in a fresh directory under /dev/shm (`PALISADE_LAB_LOG=1` prints its steps). */
export function startLab(nodes = 2): Promise<Lab> {
  return Lab.up({
    dir: mkdtempSync('/dev/shm/palisade-lab-'),
    nodes,
    ...(process.env['PALISADE_LAB_LOG'] ? { log: (l: string) => console.log(l) } : {}),
  });
}

/** `kubectl apply -f -` of the objects, as one multi-document YAML. */
export async function apply(lab: Lab, objects: readonly object[]): Promise<void> {
  await lab.kubectlOk(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
}

/** A port a pod declares (and the lab's kubelet serves). */
export interface PortDecl {
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
}

/** What {@link podObject} builds. */
export interface PodInput {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Pins the pod to this lab node (`kubernetes.io/hostname` nodeSelector). */
  readonly node?: string;
  readonly ports: readonly PortDecl[];
}

/** A Pod object whose one container declares `ports`. */
export function podObject(p: PodInput): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels } },
    spec: {
      ...(p.node ? { nodeSelector: { 'kubernetes.io/hostname': p.node } } : {}),
      containers: [
        {
          name: 'app',
          image: 'lab/echo',
          ports: p.ports.map((x) => ({ containerPort: x.port, protocol: x.protocol })),
        },
      ],
    },
  };
}

/** A Namespace object. */
export function namespaceObject(name: string, labels: Record<string, string> = {}): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** A PalisadeNetworkPolicy object. */
export function pnp(namespace: string, name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { name, namespace },
    spec,
  };
}

/** A PalisadeClusterNetworkPolicy object. */
export function pcnp(name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeClusterNetworkPolicy',
    metadata: { name },
    spec,
  };
}

/** Every (port, protocol) pair of `ports` × `protocols`, as probe ports. */
export function portsOf(
  ports: readonly number[],
  protocols: readonly PortDecl['protocol'][],
): PortDecl[] {
  return protocols.flatMap((protocol) => ports.map((port) => ({ port, protocol })));
}

/** The name part of `namespace/name`. */
export function nameOf(key: string): string {
  return key.slice(key.indexOf('/') + 1);
}

/**
 * Waits until every pod in `keys` runs (realised by the lab's kubelet with an address) and
 * returns them as probe targets, in the order of `keys`.
 */
export async function waitRunning(
  lab: Lab,
  keys: readonly string[],
  ms = 60_000,
): Promise<ProbePod[]> {
  let pods: ProbePod[] = [];
  await until(
    `pods running (${keys.length})`,
    async () => {
      pods = await lab.probePods();
      return keys.every((k) => pods.some((p) => p.key === k));
    },
    ms,
  );
  return keys.map((k) => pods.find((p) => p.key === k)!);
}

/** Waits until none of the pods in `keys` exists any more (object gone, sandbox torn down). */
export async function waitGone(lab: Lab, keys: readonly string[], ms = 60_000): Promise<void> {
  await until(
    `pods gone (${keys.length})`,
    async () => {
      const list = await lab.client.listAll<KubeObject>(Resources.pods);
      const left = new Set(
        list.items.map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`),
      );
      return keys.every((k) => !left.has(k) && lab.kubelet.pod(k) === undefined);
    },
    ms,
  );
}

/** The status the operator wrote on a Palisade policy. */
export interface PolicyStatusView {
  readonly name: string;
  readonly generation: number;
  readonly observedGeneration?: number;
  readonly valid?: string;
  readonly enforced?: string;
  readonly nodesRealized?: number;
  readonly nodesDesired?: number;
}

interface PolicyListJson {
  items: {
    metadata: { name: string; generation?: number };
    status?: {
      observedGeneration?: number;
      nodesRealized?: number;
      nodesDesired?: number;
      conditions?: { type: string; status: string }[];
    };
  }[];
}

/** The Palisade policy kinds, by short name. */
export type PolicyKind = 'pnp' | 'pcnp';

/**
 * Reads the status of every Palisade policy of a kind (`kubectl get <kind> -o json`), in
 * `namespace` for the namespaced kind.
 */
export async function policyStatuses(
  lab: Lab,
  kind: PolicyKind,
  namespace?: string,
): Promise<PolicyStatusView[]> {
  const list = JSON.parse(
    await lab.kubectlOk(['get', kind, ...(namespace ? ['-n', namespace] : []), '-o', 'json']),
  ) as PolicyListJson;
  return list.items.map((i) => {
    const cond = (t: string): string | undefined =>
      i.status?.conditions?.find((c) => c.type === t)?.status;
    const s = i.status;
    const valid = cond('Valid');
    const enforced = cond('Enforced');
    return {
      name: i.metadata.name,
      generation: i.metadata.generation ?? 0,
      ...(s?.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
      ...(valid !== undefined ? { valid } : {}),
      ...(enforced !== undefined ? { enforced } : {}),
      ...(s?.nodesRealized !== undefined ? { nodesRealized: s.nodesRealized } : {}),
      ...(s?.nodesDesired !== undefined ? { nodesDesired: s.nodesDesired } : {}),
    };
  });
}

/** True when the status says: valid, and in the kernel of every node that needs it. */
export function isEnforced(s: PolicyStatusView): boolean {
  return (
    s.observedGeneration === s.generation &&
    s.valid === 'True' &&
    s.enforced === 'True' &&
    (s.nodesDesired ?? 0) >= 1 &&
    s.nodesRealized === s.nodesDesired
  );
}

/**
 * Waits until every named policy (of `namespace`, for the namespaced kind) is Enforced (see
 * {@link isEnforced}) and returns their statuses; the error names the last statuses seen.
 */
export async function waitEnforced(
  lab: Lab,
  kind: PolicyKind,
  namespace: string | undefined,
  names: readonly string[],
  ms = 30_000,
): Promise<PolicyStatusView[]> {
  let last: PolicyStatusView[] = [];
  try {
    await until(
      `${kind} ${names.join(', ')} enforced`,
      async () => {
        last = (await policyStatuses(lab, kind, namespace)).filter((s) => names.includes(s.name));
        return last.length === names.length && last.every(isEnforced);
      },
      ms,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last statuses: ${JSON.stringify(last)}`, {
      cause: err,
    });
  }
  return last;
}

/**
 * The cluster as the apiserver holds it, through the offline simulator: namespaces, pods,
 * PalisadeNetworkPolicies and PalisadeClusterNetworkPolicies read back with `kubectl get
 * -o yaml` and handed to `Simulation` (what `palisade policy simulate` does). Nodes are not
 * objects the simulator loads, so their addresses (read back too) are fed to its engine the
 * way the operator feeds them: as `remote-node`.
 */
export class ReadBack {
  private constructor(
    readonly sim: Simulation,
    readonly evaluator: Evaluator,
  ) {}

  /** Reads the cluster back. Throws when the simulator refuses any object. */
  static async read(lab: Lab): Promise<ReadBack> {
    const core = await lab.kubectlOk(['get', 'namespaces,pods,nodes', '-A', '-o', 'yaml']);
    const pal = await lab.kubectlOk([
      'get',
      'palisadenetworkpolicies,palisadeclusternetworkpolicies',
      '-A',
      '-o',
      'yaml',
    ]);
    const objects = [...parseText(core, 'cluster.yaml'), ...parseText(pal, 'palisade.yaml')];
    const nodes = objects.filter((o) => (o.object as { kind?: string }).kind === 'Node');
    const sim = new Simulation(objects.filter((o) => !nodes.includes(o)));
    if (sim.errors.length > 0)
      throw new Error(
        `the simulator refused objects read back from the apiserver:\n${sim.errors.map((e) => `${e.source}: ${e.message}`).join('\n')}`,
      );
    for (const { object } of nodes) {
      const n = object as {
        metadata: { name: string };
        status?: { addresses?: { type: string; address: string }[] };
      };
      const addrs = (n.status?.addresses ?? [])
        .filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP')
        .map((a) => a.address);
      sim.engine.upsertNode(n.metadata.name, addrs);
    }
    sim.engine.flush();
    return new ReadBack(sim, new Evaluator(sim.engine.compiled));
  }

  /**
   * The simulator's verdict for one flow. A pod of the lab must be a pod of the simulation
   * with the same address (so the verdict is about the object read back, not a guess);
   * endpoints that are not pods (world, nodes) are evaluated by address.
   */
  verdict(from: ProbePod, to: ProbePod, port: LabProbePort): 'allow' | 'deny' {
    for (const p of [from, to]) {
      const s = this.sim.pod(p.key);
      if (s && !s.ips.includes(p.ip))
        throw new Error(`${p.key} is ${p.ip} in the lab but ${s.ips.join(',')} in the apiserver`);
    }
    if (port.protocol === 'ICMP' || typeof port.port !== 'number')
      throw new Error(
        `the kit compares numbered TCP/UDP/SCTP ports only, not ${String(port.port)}/${port.protocol}`,
      );
    return this.evaluator.evaluate({
      src: from.ip,
      dst: to.ip,
      protocol: port.protocol,
      dstPort: port.port,
    }).verdict;
  }
}

/** Options of {@link expectAgreement}. */
export interface AgreementOptions {
  /** Deadline of the probes to converge (default 20 s). */
  readonly deadlineMs?: number;
  /** Timeout of one probe (default 500 ms). */
  readonly timeoutMs?: number;
  /**
   * Cells the simulator cannot judge (it has one cluster-wide view, so e.g. a node's own
   * address, which only that node sees as `host`): checked against the kernel only.
   */
  readonly kernelOnly?: (c: Cell) => boolean;
}

/** What {@link expectAgreement} checked. */
export interface Agreement {
  readonly probe: ProbeUntilResult;
  /** Cells the truth defines. */
  readonly cells: number;
  /** Of which allowed. */
  readonly allowed: number;
  /** Cells compared with the simulator. */
  readonly simulated: number;
}

/**
 * The three-way check: real probes between `pods` on `ports` converge on `truth`
 * (probeUntil), and the simulator, fed with the cluster read back from the apiserver, gives
 * the same verdict for every cell. Throws an assertion-style error listing the mismatches.
 */
export async function expectAgreement(
  lab: Lab,
  pods: readonly ProbePod[],
  ports: readonly LabProbePort[],
  truth: Expect,
  o: AgreementOptions = {},
): Promise<Agreement> {
  const probe = await probeUntil(lab, ports, truth, {
    pods,
    deadlineMs: o.deadlineMs ?? 20_000,
    timeoutMs: o.timeoutMs ?? 500,
  });
  if (probe.mismatches.length > 0)
    throw new Error(
      `the kernel disagrees with the truth on ${probe.mismatches.length} flow(s) after ${probe.elapsedMs} ms (${probe.rounds} rounds):\n${describeMismatches(probe.mismatches, truth)}`,
    );
  const view = await ReadBack.read(lab);
  const simWrong: string[] = [];
  let cells = 0;
  let allowed = 0;
  let simulated = 0;
  for (const port of ports)
    for (const from of pods)
      for (const to of pods) {
        if (from === to) continue;
        const cell = { from: from.key, to: to.key, port: port.port, protocol: port.protocol };
        const want = truth(cell);
        if (want === undefined) continue;
        cells++;
        if (want === 'allow') allowed++;
        if (o.kernelOnly?.(cell)) continue;
        simulated++;
        const got = view.verdict(from, to, port);
        if (got !== want)
          simWrong.push(
            `${from.key}>${to.key} ${String(port.port)}/${port.protocol}: expected ${want}, simulator says ${got}`,
          );
      }
  if (simWrong.length > 0)
    throw new Error(
      `the simulator (objects read back from the apiserver) disagrees on ${simWrong.length} flow(s):\n${simWrong.join('\n')}`,
    );
  return { probe, cells, allowed, simulated };
}

/** An endpoint outside the pod network: a probe source and target that is not a pod. */
export interface ExternalEndpoint {
  readonly pod: ProbePod;
  close(): Promise<void>;
}

async function serveAll(agent: ProbeAgent, ports: readonly PortDecl[]): Promise<void> {
  for (const p of ports) await agent.serve(p.protocol.toLowerCase() as ServeProtocol, p.port);
}

/**
 * A host outside the cluster ("world"): its own network namespace on the lab's underlay at
 * `198.18.<slot>.250`, with routes to the pod CIDRs via the nodes (a router would do the
 * same), serving `ports`. Its names carry the lab's slot prefix, so `lab.down` sweeps them
 * should `close` never run.
 */
export async function startWorldHost(
  lab: Lab,
  ports: readonly PortDecl[],
): Promise<ExternalEndpoint> {
  const p = slotPrefix(lab.slot);
  const netns = `${p}-world`;
  const hostEnd = `${p}hw`;
  const ip = `198.18.${lab.slot}.250`;
  ipSync('netns', 'add', netns);
  try {
    ipSync('-n', netns, 'link', 'set', 'lo', 'up');
    ipSync('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
    ipSync('link', 'set', hostEnd, 'master', p, 'up');
    ipSync('-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
    ipSync('-n', netns, 'link', 'set', 'eth0', 'up');
    for (const n of lab.nodes)
      ipSync('-n', netns, 'route', 'add', n.podCidr, 'via', n.address, 'dev', 'eth0');
  } catch (err) {
    await ipAsync('netns', 'del', netns).catch(() => undefined);
    throw err;
  }
  const agent = await ProbeAgent.start(netns);
  await serveAll(agent, ports);
  return {
    pod: { key: 'external/world', netns, ip, ports: ports.map(declared) },
    close: async () => {
      await agent.close();
      await ipAsync('netns', 'del', netns).catch(() => undefined);
      await ipAsync('link', 'del', hostEnd).catch(() => undefined);
    },
  };
}

/** A node's own address as an endpoint: a server in the node's namespace (`node/<name>`). */
export async function startNodeEndpoint(
  node: LabNode,
  ports: readonly PortDecl[],
): Promise<ExternalEndpoint> {
  const agent = await ProbeAgent.start(node.netns);
  await serveAll(agent, ports);
  return {
    pod: {
      key: `node/${node.name}`,
      netns: node.netns,
      ip: node.address,
      ports: ports.map(declared),
    },
    close: () => agent.close(),
  };
}

function declared(p: PortDecl): ProbePod['ports'][number] {
  return { containerPort: p.port, protocol: p.protocol };
}

/**
 * Makes the node's CNI IPAM hand out `ip` next (if it is free): its round-robin hint is set
 * to the address just before. Only meaningful while no other pod is being added on the node.
 */
export function steerNextAddress(node: LabNode, ip: string): void {
  const parts = ip.split('.').map(Number);
  const n = parts.reduce((a, b) => a * 256 + b, 0) - 1;
  const prev = [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
  writeFileSync(join(node.dir, 'ipam', 'palisade', 'last_reserved_ip.4'), prev);
}

/** What a {@link StreamLoop} saw, summed over its chunks. */
export interface StreamTotals {
  /** Streams run (each a new flow: new socket, new 5-tuple). */
  readonly chunks: number;
  /** Chunks whose flow broke or could not be opened. */
  readonly failed: number;
  readonly sent: number;
  readonly received: number;
  /** `chunk#seq` of the first lost messages (at most 20). */
  readonly lost: readonly string[];
  /** The first distinct errors (e.g. `timeout`, `reset after 12`). */
  readonly errors: readonly string[];
}

/**
 * A flow kept running in back-to-back chunks (`ProbeAgent.stream`) until stopped: each
 * chunk is one connection (TCP) or one socket (UDP) sending `count` sequence-numbered
 * messages, one every `intervalUs`, so both established flows and new ones are exercised.
 */
export class StreamLoop {
  private stopping = false;
  private readonly done: Promise<void>;
  private t: { chunks: number; failed: number; sent: number; received: number } = {
    chunks: 0,
    failed: 0,
    sent: 0,
    received: 0,
  };
  private readonly lost: string[] = [];
  private readonly errors = new Set<string>();

  constructor(
    private readonly agent: ProbeAgent,
    readonly proto: 'tcp' | 'udp',
    readonly dst: string,
    readonly port: number,
    private readonly chunk: { count: number; intervalUs: number; timeoutMs: number },
  ) {
    this.done = this.run();
  }

  /** Chunks completed so far. */
  get chunks(): number {
    return this.t.chunks;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const r = await this.agent.stream(this.proto, this.dst, this.port, this.chunk);
      const n = this.t.chunks;
      this.t = {
        chunks: n + 1,
        failed: this.t.failed + (r.ok ? 0 : 1),
        sent: this.t.sent + r.sent,
        received: this.t.received + r.received,
      };
      for (const s of r.lost) if (this.lost.length < 20) this.lost.push(`${n}#${s}`);
      if (r.error && this.errors.size < 5) this.errors.add(r.error);
    }
  }

  /** Stops after the chunk in flight and returns the totals. */
  async stop(): Promise<StreamTotals> {
    this.stopping = true;
    await this.done;
    return { ...this.t, lost: [...this.lost], errors: [...this.errors] };
  }
}
