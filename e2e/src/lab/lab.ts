/**
 * The lab: a real cluster on this machine, without Docker.
 *
 * etcd + kube-apiserver (harness/controlPlane.ts), the operator (`palisade-operator`, a
 * process), N nodes as network namespaces on an underlay bridge with routes between their
 * pod CIDRs (labNetwork.ts) and a Node object each, a shim per node (`palisade-shim
 * --operator`, a process in the node's namespace, its certificate bootstrapped from a token
 * bound to the node's shim pod), our CNI plugin, and the stand-in kubelet (kubelet.ts).
 * Optionally a Redis for the identity store.
 *
 * `Lab.up` returns when every shim has its first snapshot; `down` removes every namespace,
 * link, pin, process and file it made, and `leftovers` says what (if anything) is still
 * there. Tests hold a Lab in-process; `palisade lab up` runs one in a daemon (daemon.ts).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { KubeClient, Resources, type KubeObject } from '@palisade/operator';
import { startRedis, type RedisServer } from '@palisade/operator/testing';
import { callShim } from '@palisade/shim';
import { ensureBpffs, shimCommand, TEST_BPFFS } from '@palisade/shim/testing';
import { REPO_ROOT } from '../harness/binaries.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { freePorts } from '../harness/ports.js';
import { startProcess, type ManagedProcess } from '../harness/process.js';
import { probeTargets, StandInKubelet, type KubeletNode } from './kubelet.js';
import { LabError } from './labError.js';
import {
  bridgeName,
  createNodeNetwork,
  hostAddress,
  nodeAddress,
  podCidr,
  slotLinks,
  slotNamespaces,
  sweepSlot,
  takeSlot,
} from './labNetwork.js';
import { alive, writeState, type LabState } from './labState.js';
import {
  probeAll,
  type LabProbePort,
  type LabProbeResult,
  type ProbeAllOptions,
  type ProbePod,
} from './prober.js';

/** The operator's namespace in the lab. */
export const LAB_OPERATOR_NS = 'palisade-system';
const OPERATOR_MAIN = join(REPO_ROOT, 'packages/operator/dist/main.js');
const SHIM_SA = 'palisade-shim';

/** Options of {@link Lab.up}. */
export interface LabOptions {
  /** Where the lab keeps its state, logs, kubeconfig and sockets (created; default `.lab`). */
  readonly dir?: string;
  /** How many nodes (default 2). */
  readonly nodes?: number;
  /** Where identities live (default `crd`; `redis` starts a redis-server for the lab). */
  readonly identityStore?: 'crd' | 'redis';
  /** Progress, one line per step. */
  readonly log?: (line: string) => void;
}

/** A node of the lab. */
export interface LabNode extends KubeletNode {
  /** 1-based. */
  readonly index: number;
  readonly podCidr: string;
  /** The shim's local API socket. */
  readonly socket: string;
  readonly dir: string;
  shim?: ManagedProcess | undefined;
}

/** The health of one part. */
export interface PartStatus {
  readonly part: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What {@link Lab.leftovers} found. */
export interface Leftovers {
  readonly namespaces: readonly string[];
  readonly links: readonly string[];
  readonly pins: boolean;
  readonly processes: readonly number[];
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Polls `cond` every 50 ms until it returns true (throws `NOT_READY` naming `what`). */
export async function until(
  what: string,
  cond: () => Promise<boolean> | boolean,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new LabError(
        'NOT_READY',
        `${what}: not ready after ${ms} ms${last instanceof Error ? ` (${last.message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A kubeconfig with the certificates inlined (it stays valid wherever it is copied). */
function inlineKubeconfig(path: string): string {
  const doc = parse(readFileSync(path, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const inline = (o: Record<string, string>, key: string): void => {
    const file = o[key];
    if (file === undefined) return;
    o[`${key}-data`] = readFileSync(file).toString('base64');
    delete o[key];
  };
  for (const c of doc.clusters) inline(c.cluster, 'certificate-authority');
  for (const u of doc.users) {
    inline(u.user, 'client-certificate');
    inline(u.user, 'client-key');
  }
  return stringify(doc);
}

/** A running lab. */
export class Lab {
  readonly kubeconfig: string;
  readonly client: KubeClient;
  readonly kubelet: StandInKubelet;
  operator: ManagedProcess | undefined;
  private readonly grpc: string;
  private readonly caFile: string;
  private readyAfterMs: number;
  private downed = false;

  private constructor(
    readonly dir: string,
    readonly slot: number,
    readonly cp: ControlPlane,
    readonly redis: RedisServer | undefined,
    readonly nodes: readonly LabNode[],
    private readonly ports: { metrics: number; grpc: number },
    private readonly log: (line: string) => void,
    t0: number,
  ) {
    this.kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(this.kubeconfig, inlineKubeconfig(cp.kubeconfigPath), { mode: 0o600 });
    this.client = KubeClient.load(this.kubeconfig);
    this.grpc = `${hostAddress(slot)}:${ports.grpc}`;
    this.caFile = join(dir, 'ca.crt');
    this.kubelet = new StandInKubelet({ client: this.client, slot, nodes, dir, log });
    this.readyAfterMs = Date.now() - t0;
  }

  /** Where the nodes' maps are pinned (the shims' `--bpffs`). */
  get bpffs(): string {
    return join(TEST_BPFFS, `plab${this.slot}`);
  }

  /** The identity store in use. */
  get identityStore(): 'crd' | 'redis' {
    return this.redis ? 'redis' : 'crd';
  }

  /** Starts a lab; resolves when every part is ready. On failure, what was started is removed. */
  static async up(o: LabOptions = {}): Promise<Lab> {
    const t0 = Date.now();
    const log = o.log ?? (() => undefined);
    const dir = resolve(o.dir ?? '.lab');
    const n = o.nodes ?? 2;
    if (!Number.isInteger(n) || n < 1 || n > 50)
      throw new LabError('USAGE', `--nodes must be an integer in [1, 50], got ${n}`);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    ensureBpffs();
    const slot = takeSlot();
    let cp: ControlPlane | undefined;
    let redis: RedisServer | undefined;
    let lab: Lab | undefined;
    try {
      log(`lab: slot ${slot}: underlay ${hostAddress(slot)}/24 on bridge ${bridgeName(slot)}`);
      const placements = Array.from({ length: n }, (_, i) => ({
        name: `node-${i + 1}`,
        index: i + 1,
      }));
      const nodes: LabNode[] = placements.map((p) => {
        const netns = createNodeNetwork(slot, p, placements);
        const ndir = join(dir, 'nodes', p.name);
        mkdirSync(ndir, { recursive: true });
        const socket = join(ndir, 'shim.sock');
        return {
          ...p,
          netns,
          address: nodeAddress(slot, p.index),
          podCidr: podCidr(slot, p.index),
          socket,
          dir: ndir,
          labels: { 'kubernetes.io/hostname': p.name, 'kubernetes.io/os': 'linux' },
          cniConfig: {
            cniVersion: '1.0.0',
            name: 'palisade',
            type: 'palisade-cni',
            shimSocket: socket,
            ipam: { subnets: [podCidr(slot, p.index)], dataDir: join(ndir, 'ipam') },
          },
        };
      });
      log(`lab: ${n} node namespaces with routes between their pod CIDRs (${seconds(t0)})`);
      const tCp = Date.now();
      [cp, redis] = await Promise.all([
        startControlPlane(),
        o.identityStore === 'redis' ? startRedis() : Promise.resolve(undefined),
      ]);
      log(
        `lab: etcd and kube-apiserver ready at ${cp.server} (${seconds(tCp)})${redis ? `; redis at ${redis.url}` : ''}`,
      );
      await cp.applyCrds();
      const [metrics = 0, grpc = 0] = await freePorts(2);
      lab = new Lab(dir, slot, cp, redis, nodes, { metrics, grpc }, log, t0);
      await lab.bootstrap();
      lab.readyAfterMs = Date.now() - t0;
      lab.writeState();
      log(`lab: ready in ${seconds(t0)}`);
      return lab;
    } catch (err) {
      if (lab) await lab.down().catch(() => undefined);
      else {
        await cp?.stop().catch(() => undefined);
        await redis?.stop().catch(() => undefined);
        sweepSlot(slot);
      }
      throw err;
    }
  }

  private async bootstrap(): Promise<void> {
    const c = this.client;
    await c.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: LAB_OPERATOR_NS },
    });
    await c.create(Resources.serviceAccounts, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: SHIM_SA, namespace: LAB_OPERATOR_NS },
    });
    for (const n of this.nodes) await this.createNodeObject(n);
    await this.kubelet.start();
    const t = Date.now();
    await this.startOperator();
    await until(
      'the operator (CA Secret palisade-ca)',
      async () => (await c.get(Resources.configMaps, 'palisade-ca', LAB_OPERATOR_NS)) !== undefined,
      60_000,
    );
    const cm = (await c.get(Resources.configMaps, 'palisade-ca', LAB_OPERATOR_NS)) as KubeObject & {
      data: Record<string, string>;
    };
    writeFileSync(this.caFile, cm.data['ca.crt'] ?? '');
    this.log(`lab: operator up, CA published (${seconds(t)})`);
    const tShims = Date.now();
    await Promise.all(this.nodes.map((n) => this.startShim(n)));
    this.log(`lab: ${this.nodes.length} shims synced with the operator (${seconds(tShims)})`);
  }

  private async createNodeObject(n: LabNode): Promise<void> {
    await this.client.create(Resources.nodes, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, labels: n.labels },
      spec: { podCIDR: n.podCidr, podCIDRs: [n.podCidr] },
    });
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await this.client.mergePatch(
      Resources.nodes,
      n.name,
      undefined,
      {
        status: {
          addresses: [
            { type: 'InternalIP', address: n.address },
            { type: 'Hostname', address: n.name },
          ],
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'LabNodeReady',
              message: 'palisade lab node',
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
      'status',
    );
    // The node's shim pod (what a DaemonSet pod would be): its bound token is the shim's
    // bootstrap credential.
    await this.client.create(Resources.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `palisade-shim-${n.name}`,
        namespace: LAB_OPERATOR_NS,
        labels: { app: 'palisade-shim' },
      },
      spec: {
        nodeName: n.name,
        hostNetwork: true,
        serviceAccountName: SHIM_SA,
        containers: [{ name: 'shim', image: 'palisade/shim' }],
      },
    });
  }

  /** Starts (or restarts) the operator process. */
  async startOperator(): Promise<void> {
    if (this.operator && !this.operator.exitInfo()) return;
    this.operator = startProcess({
      name: 'palisade-operator',
      command: process.execPath,
      args: [
        OPERATOR_MAIN,
        '--kubeconfig',
        this.kubeconfig,
        '--namespace',
        LAB_OPERATOR_NS,
        '--id',
        'lab-operator',
        '--metrics-addr',
        `127.0.0.1:${this.ports.metrics}`,
        '--grpc-addr',
        this.grpc,
        '--grpc-name',
        hostAddress(this.slot),
        '--retry-period',
        '250ms',
        '--renew-deadline',
        '2s',
        '--lease-duration',
        '3s',
        ...(this.redis ? ['--identity-store', 'redis', '--redis-url', this.redis.url] : []),
      ],
      logFile: join(this.dir, 'logs', 'operator.log'),
    });
    await until('the operator (/readyz)', () => this.operatorReady(), 60_000);
  }

  /** Kills the operator (SIGKILL: a crash). */
  async killOperator(): Promise<void> {
    await this.operator?.kill();
  }

  /** True when the operator answers `/readyz` with 200. */
  async operatorReady(): Promise<boolean> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.ports.metrics}/readyz`, {
        signal: AbortSignal.timeout(1000),
      });
      return r.ok;
    } catch {
      return false;
    }
  }

  /** The node named `name`. */
  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new LabError('USAGE', `no node ${name} in the lab`);
    return n;
  }

  /** Writes a fresh token bound to the node's shim pod (the shim re-reads it for every request). */
  private async writeToken(n: LabNode): Promise<string> {
    const pod = await this.client.get(Resources.pods, `palisade-shim-${n.name}`, LAB_OPERATOR_NS);
    if (!pod) throw new LabError('STATE', `the shim pod of ${n.name} is gone`);
    const tr = await this.client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${LAB_OPERATOR_NS}/serviceaccounts/${SHIM_SA}/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            expirationSeconds: 7 * 24 * 3600,
            boundObjectRef: {
              apiVersion: 'v1',
              kind: 'Pod',
              name: pod.metadata.name,
              uid: pod.metadata.uid,
            },
          },
        },
      },
    );
    const file = join(n.dir, 'token');
    writeFileSync(file, tr.status.token, { mode: 0o600 });
    return file;
  }

  /** Starts (or restarts) a node's shim; resolves when it is synced with the operator. */
  async startShim(n: LabNode, opts: { waitSynced?: boolean } = {}): Promise<void> {
    if (n.shim && !n.shim.exitInfo()) return;
    const token = existsSync(join(n.dir, 'token'))
      ? join(n.dir, 'token')
      : await this.writeToken(n);
    mkdirSync(this.bpffs, { recursive: true });
    n.shim = startProcess({
      name: `palisade-shim ${n.name}`,
      command: 'ip',
      args: [
        'netns',
        'exec',
        n.netns,
        ...shimCommand(),
        '--node',
        n.name,
        '--bpffs',
        this.bpffs,
        '--operator',
        this.grpc,
        '--ca-file',
        this.caFile,
        '--token-file',
        token,
        '--socket',
        n.socket,
        '--state-dir',
        join(n.dir, 'state'),
      ],
      logFile: join(this.dir, 'logs', `shim-${n.name}.log`),
    });
    if (opts.waitSynced === false) {
      await until(
        `the shim of ${n.name} (API)`,
        async () => (await this.shimStatus(n)) !== undefined,
        30_000,
      );
      return;
    }
    await until(
      `the shim of ${n.name} (synced with the operator)`,
      async () => (await this.shimStatus(n))?.distribution?.synced === true,
      60_000,
    );
  }

  /** Stops a node's shim: SIGKILL (a crash) or SIGTERM. The kernel keeps enforcing. */
  async stopShim(n: LabNode, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const s = n.shim;
    n.shim = undefined;
    if (s) await (signal === 'SIGKILL' ? s.kill() : s.terminate());
  }

  /** The shim's `/v1/status`, or undefined when it does not answer. */
  async shimStatus(n: LabNode): Promise<ShimStatusView | undefined> {
    try {
      return (await callShim(n.socket, 'GET', '/v1/status', undefined, 2000)) as ShimStatusView;
    } catch {
      return undefined;
    }
  }

  /** Runs kubectl against the lab (never throws for a non-zero exit). */
  kubectl(args: readonly string[], input?: string): ReturnType<ControlPlane['kubectl']> {
    return this.cp.kubectl(args, input === undefined ? undefined : { input });
  }

  /** Like {@link Lab.kubectl}, but throws (with kubectl's stderr) on a non-zero exit; resolves with stdout. */
  kubectlOk(args: readonly string[], input?: string): Promise<string> {
    return this.cp.kubectlOk(args, input === undefined ? undefined : { input });
  }

  /** The running pods as probe targets (Running, with an address, realised by the kubelet). */
  async probePods(): Promise<ProbePod[]> {
    const list = await this.client.listAll<KubeObject>(Resources.pods);
    return probeTargets(list.items, (key) => this.kubelet.pod(key));
  }

  /** Probes every ordered pair of running pods on `ports`, for real. */
  async probe(ports: readonly LabProbePort[], o: ProbeAllOptions = {}): Promise<LabProbeResult[]> {
    return probeAll(await this.probePods(), ports, o);
  }

  /** The health of every part. */
  async status(): Promise<PartStatus[]> {
    return labStatus(this.stateNow());
  }

  /** What this lab writes to `<dir>/state.json`. */
  stateNow(): LabState {
    return {
      version: 1,
      pid: process.pid,
      slot: this.slot,
      dir: this.dir,
      kubeconfig: this.kubeconfig,
      server: this.cp.server,
      identityStore: this.identityStore,
      ...(this.redis ? { redisUrl: this.redis.url } : {}),
      operator: {
        ...(this.operator?.pid !== undefined ? { pid: this.operator.pid } : {}),
        metricsPort: this.ports.metrics,
        grpc: this.grpc,
      },
      nodes: this.nodes.map((n) => ({
        name: n.name,
        netns: n.netns,
        address: n.address,
        podCidr: n.podCidr,
        socket: n.socket,
        ...(n.shim?.pid !== undefined ? { shimPid: n.shim.pid } : {}),
      })),
      bpffs: this.bpffs,
      controlPlaneDir: this.cp.dir,
      pids: [this.operator?.pid, ...this.nodes.map((n) => n.shim?.pid)].filter(
        (p): p is number => p !== undefined,
      ),
      startedAt: new Date(Date.now() - this.readyAfterMs).toISOString(),
      readyAfterMs: this.readyAfterMs,
    };
  }

  /** Writes `<dir>/state.json`. */
  writeState(): void {
    writeState(this.stateNow());
  }

  /**
   * Stops everything and removes every namespace, link, pin, socket, log and file of the
   * lab (the directory itself too, unless `keepDir`). Idempotent.
   */
  async down(o: { keepDir?: boolean } = {}): Promise<Leftovers> {
    if (!this.downed) {
      this.downed = true;
      const pids = this.stateNow().pids;
      await this.kubelet.stop(true).catch(() => undefined);
      await Promise.all(this.nodes.map((n) => this.stopShim(n, 'SIGTERM').catch(() => undefined)));
      await this.operator?.terminate(5000).catch(() => undefined);
      this.client.close();
      await this.cp.stop().catch(() => undefined);
      await this.redis?.stop().catch(() => undefined);
      sweepLab(this.slot, this.bpffs, pids);
      if (!o.keepDir) rmSync(this.dir, { recursive: true, force: true });
    }
    return leftovers(this.slot, this.bpffs, this.stateNow().pids);
  }
}

/** The parts of a shim's status the lab reads. */
export interface ShimStatusView {
  readonly distribution?: { connected: boolean; synced: boolean; epoch: string; revision: number };
  readonly maps?: Record<string, { entries: number }>;
  readonly endpoints?: number;
}

/** Kills the lab's processes, removes its namespaces, links and pins. Idempotent. */
export function sweepLab(slot: number, bpffs: string, pids: readonly number[]): void {
  for (const pid of pids)
    if (alive(pid))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
  sweepSlot(slot);
  rmSync(bpffs, { recursive: true, force: true });
}

/** What of the lab in `slot` is still there (nothing, after a clean `down`). */
export function leftovers(slot: number, bpffs: string, pids: readonly number[]): Leftovers {
  return {
    namespaces: slotNamespaces(slot),
    links: slotLinks(slot),
    pins: existsSync(bpffs),
    processes: pids.filter((p) => alive(p)),
  };
}

/** The health of every part of the lab described by `s` (usable from another process). */
export async function labStatus(s: LabState): Promise<PartStatus[]> {
  const out: PartStatus[] = [];
  out.push({
    part: 'lab process',
    ok: alive(s.pid),
    detail: `pid ${s.pid}, slot ${s.slot}, ${s.dir}`,
  });
  const client = KubeClient.load(s.kubeconfig);
  try {
    const nodes = await client.listAll<KubeObject>(Resources.nodes);
    const pods = await client.listAll<KubeObject>(Resources.pods);
    const running = pods.items.filter(
      (p) => (p['status'] as { phase?: string } | undefined)?.phase === 'Running',
    );
    out.push({
      part: 'kube-apiserver',
      ok: true,
      detail: `${s.server}: ${nodes.items.length} nodes, ${running.length}/${pods.items.length} pods running`,
    });
  } catch (err) {
    out.push({
      part: 'kube-apiserver',
      ok: false,
      detail: `${s.server}: ${(err as Error).message}`,
    });
  } finally {
    client.close();
  }
  let ready = false;
  try {
    ready = (
      await fetch(`http://127.0.0.1:${s.operator.metricsPort}/readyz`, {
        signal: AbortSignal.timeout(1000),
      })
    ).ok;
  } catch {
    ready = false;
  }
  out.push({
    part: 'operator',
    ok: ready,
    detail: `${ready ? 'ready' : 'not ready'}; gRPC ${s.operator.grpc}, metrics 127.0.0.1:${s.operator.metricsPort}; identities in ${s.identityStore}${s.redisUrl ? ` (${s.redisUrl})` : ''}`,
  });
  for (const n of s.nodes) {
    let st: ShimStatusView | undefined;
    try {
      st = (await callShim(n.socket, 'GET', '/v1/status', undefined, 2000)) as ShimStatusView;
    } catch {
      st = undefined;
    }
    const d = st?.distribution;
    out.push({
      part: `shim ${n.name}`,
      ok: d?.synced === true && d.connected,
      detail: st
        ? `${d?.connected ? 'connected' : 'disconnected'}, ${d?.synced ? 'synced' : 'not synced'}, revision ${String(d?.revision ?? '?')}; ${n.address}, pods ${n.podCidr}; policy entries ${String(st.maps?.['pal_policy']?.entries ?? '?')}`
        : `not answering on ${n.socket}`,
    });
  }
  return out;
}
