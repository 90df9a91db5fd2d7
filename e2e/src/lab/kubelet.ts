/**
 * The lab's stand-in kubelet (and scheduler), for every lab node at once. It watches Pods
 * and realises each one bound to a lab node:
 *
 * - unscheduled → bound to a node (scheduler.ts);
 * - bound, not running here → namespace + CNI ADD + port servers (podRuntime.ts), then the
 *   status a kubelet writes: `podIP(s)`, `hostIP`, phase Running, Ready conditions;
 * - `deletionTimestamp` set, or gone → servers stopped, CNI DEL, namespace removed, and the
 *   final delete with grace period 0 (what a kubelet does once the containers are gone).
 *
 * Reconciles from state, one pod key at a time; a failure is retried with backoff and never
 * stops the loop. Each running pod is also recorded in `<dir>/pods/` so that `lab exec` and
 * `lab probe`, in other processes, find its namespace.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backoff } from '@palisade/core';
import {
  Informer,
  KubeApiError,
  Resources,
  splitKey,
  type KubeClient,
  type KubeObject,
} from '@palisade/operator';
import {
  startPod,
  stopPod,
  type PodPort,
  type RunningPod,
  type RuntimeNode,
} from './podRuntime.js';
import type { ProbePod } from './prober.js';
import { bindPod, chooseNode, type SchedulableNode } from './scheduler.js';

/** A lab node as the kubelet knows it. */
export interface KubeletNode extends RuntimeNode, SchedulableNode {}

/** Options of the kubelet. */
export interface KubeletOptions {
  readonly client: KubeClient;
  readonly slot: number;
  readonly nodes: readonly KubeletNode[];
  /** The lab directory (pod records go to `<dir>/pods/`). */
  readonly dir: string;
  /** One line per notable event (failures, retries). */
  readonly log?: (line: string) => void;
}

/** What `lab exec` and `lab probe` read about a running pod (in `<dir>/pods/`). */
export type PodRecord = Omit<RunningPod, 'ports' | 'agent'>;

type PodSpec = {
  nodeName?: string;
  hostNetwork?: boolean;
  containers?: {
    name: string;
    image?: string;
    ports?: { name?: string; containerPort: number; protocol?: string }[];
  }[];
};

/** The declared container ports of a pod (protocol defaults to TCP). */
export function declaredPorts(pod: KubeObject): PodPort[] {
  const spec = pod['spec'] as PodSpec | undefined;
  return (spec?.containers ?? []).flatMap((c) =>
    (c.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      containerPort: p.containerPort,
      protocol: (p.protocol ?? 'TCP') as PodPort['protocol'],
    })),
  );
}

/**
 * The probe targets among `pods` (objects from the apiserver): those running here under
 * the same uid, not being deleted, not on the host network; sorted by `namespace/name`.
 */
export function probeTargets(
  pods: readonly KubeObject[],
  running: (key: string) => PodRecord | undefined,
): ProbePod[] {
  const out: ProbePod[] = [];
  for (const p of pods) {
    const key = `${p.metadata.namespace ?? ''}/${p.metadata.name}`;
    const r = running(key);
    if (!r || r.hostNetwork || r.uid !== p.metadata.uid || p.metadata.deletionTimestamp) continue;
    out.push({ key, netns: r.netns, ip: r.ip, ports: declaredPorts(p) });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Reads the pod records of a lab directory. */
export function readPodRecords(dir: string): PodRecord[] {
  const d = join(dir, 'pods');
  let files: string[];
  try {
    files = readdirSync(d);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(join(d, f), 'utf8')) as PodRecord];
      } catch {
        return []; // being written
      }
    });
}

/** The stand-in kubelet. */
export class StandInKubelet {
  private readonly informer: Informer;
  private readonly running = new Map<string, RunningPod>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly backoffs = new Map<string, Backoff>();
  private readonly nodeChains = new Map<string, Promise<unknown>>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly o: KubeletOptions) {
    this.log = o.log ?? (() => undefined);
    mkdirSync(join(o.dir, 'pods'), { recursive: true });
    this.informer = new Informer({
      client: o.client,
      resource: Resources.pods,
      backoff: { initialMs: 100, maxMs: 2000 },
    });
    this.informer.on((e) => this.enqueue(e.key));
  }

  /** Starts watching; resolves once the first list is processed. */
  async start(): Promise<void> {
    this.loop = this.informer.run(this.abort.signal);
    await this.informer.synced;
    for (const p of this.informer.list())
      this.enqueue(`${p.metadata.namespace}/${p.metadata.name}`);
  }

  /** The pods running now. */
  pods(): RunningPod[] {
    return [...this.running.values()];
  }

  /** The running pod `namespace/name`, if any. */
  pod(key: string): RunningPod | undefined {
    return this.running.get(key);
  }

  /** Resolves when no reconcile is pending. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending.values()]);
  }

  /**
   * Stops watching. With `teardown`, every pod's servers, CNI state and namespace go too
   * (the pod objects stay); without it they are left to the sweep of `lab down`.
   */
  async stop(teardown = true): Promise<void> {
    this.abort.abort();
    await this.loop;
    await Promise.allSettled([...this.pending.values()]);
    if (teardown) for (const [key, p] of [...this.running]) await this.teardown(key, p);
  }

  private node(name: string | undefined): KubeletNode | undefined {
    return this.o.nodes.find((n) => n.name === name);
  }

  private enqueue(key: string): void {
    if (this.abort.signal.aborted) return;
    if (this.pending.has(key)) {
      this.dirty.add(key);
      return;
    }
    const run = this.reconcile(key)
      .then(
        () => {
          this.backoffs.delete(key);
        },
        (err: unknown) => {
          let b = this.backoffs.get(key);
          if (!b)
            this.backoffs.set(
              key,
              (b = new Backoff({ initialMs: 200, maxMs: 5000, jitter: 'full' })),
            );
          const ms = b.next();
          this.log(
            `kubelet: ${key}: ${err instanceof Error ? err.message : String(err)} (retry in ${ms} ms)`,
          );
          setTimeout(() => this.enqueue(key), ms).unref();
        },
      )
      .finally(() => {
        this.pending.delete(key);
        if (this.dirty.delete(key)) this.enqueue(key);
      });
    this.pending.set(key, run);
  }

  /** Runs `f` after every earlier CNI operation of the same node (CNI calls are per node serial). */
  private onNode<T>(node: string, f: () => Promise<T>): Promise<T> {
    const prev = this.nodeChains.get(node) ?? Promise.resolve();
    const next = prev.then(f, f);
    this.nodeChains.set(
      node,
      next.catch(() => undefined),
    );
    return next;
  }

  private async reconcile(key: string): Promise<void> {
    const pod = this.informer.get(key);
    const have = this.running.get(key);
    if (!pod) {
      if (have) await this.teardown(key, have);
      return;
    }
    const spec = (pod['spec'] ?? {}) as PodSpec;
    const uid = pod.metadata.uid ?? '';
    if (have && have.uid !== uid) await this.teardown(key, have);
    if (!spec.nodeName) {
      if (pod.metadata.deletionTimestamp) return;
      const target = chooseNode(pod, this.o.nodes, (n) => this.podsOn(n));
      if (target) await bindPod(this.o.client, pod, target);
      return;
    }
    const node = this.node(spec.nodeName);
    if (!node) return; // not a lab node
    if (pod.metadata.deletionTimestamp) {
      const cur = this.running.get(key);
      if (cur) await this.teardown(key, cur);
      await this.finalDelete(pod);
      return;
    }
    let cur = this.running.get(key);
    if (!cur) {
      cur = await this.onNode(node.name, () =>
        startPod(this.o.slot, node, {
          namespace: pod.metadata.namespace ?? '',
          name: pod.metadata.name,
          uid,
          hostNetwork: spec.hostNetwork === true,
          ports: declaredPorts(pod),
        }),
      );
      this.running.set(key, cur);
      this.record(cur);
    }
    const status = (pod['status'] ?? {}) as { podIP?: string; phase?: string };
    if (status.podIP !== cur.ip || status.phase !== 'Running')
      await this.writeStatus(pod, node, cur);
  }

  private podsOn(node: string): number {
    return this.informer.list().filter((p) => (p['spec'] as PodSpec | undefined)?.nodeName === node)
      .length;
  }

  private async teardown(key: string, p: RunningPod): Promise<void> {
    await this.onNode(p.node, () => stopPod(this.node(p.node), p));
    this.running.delete(key);
    this.forget(key);
  }

  private recordPath(namespace: string, name: string): string {
    return join(this.o.dir, 'pods', `${namespace}_${name}.json`);
  }

  private record(p: RunningPod): void {
    const record: PodRecord = {
      namespace: p.namespace,
      name: p.name,
      uid: p.uid,
      node: p.node,
      netns: p.netns,
      ip: p.ip,
      hostNetwork: p.hostNetwork,
    };
    const path = this.recordPath(p.namespace, p.name);
    writeFileSync(`${path}.tmp`, JSON.stringify(record));
    renameSync(`${path}.tmp`, path); // atomic: readers never see half a record
  }

  private forget(key: string): void {
    const { namespace, name } = splitKey(key);
    rmSync(this.recordPath(namespace ?? '', name), { force: true });
  }

  private async finalDelete(pod: KubeObject): Promise<void> {
    try {
      await this.o.client.request(
        'DELETE',
        `/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name}`,
        {
          body: {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            gracePeriodSeconds: 0,
            preconditions: { uid: pod.metadata.uid },
          },
        },
      );
    } catch (err) {
      if (err instanceof KubeApiError && (err.notFound || err.status === 409)) return;
      throw err;
    }
  }

  private async writeStatus(pod: KubeObject, node: KubeletNode, p: RunningPod): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const spec = (pod['spec'] ?? {}) as PodSpec;
    const cond = (type: string): Record<string, string> => ({
      type,
      status: 'True',
      lastTransitionTime: now,
    });
    await this.o.client.mergePatch(
      Resources.pods,
      pod.metadata.name,
      pod.metadata.namespace,
      {
        status: {
          phase: 'Running',
          hostIP: node.address,
          hostIPs: [{ ip: node.address }],
          podIP: p.ip,
          podIPs: [{ ip: p.ip }],
          startTime: now,
          conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map(cond),
          containerStatuses: (spec.containers ?? []).map((c) => ({
            name: c.name,
            ready: true,
            started: true,
            restartCount: 0,
            image: c.image ?? 'none',
            imageID: '',
            containerID: `lab://${p.uid}/${c.name}`,
            state: { running: { startedAt: now } },
          })),
        },
      },
      'status',
    );
  }
}
