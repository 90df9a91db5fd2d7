/**
 * Section 2 of the lab benchmark: a new pod's creation → its first allowed connection.
 *
 * A NetworkPolicy admits `app=client` to `app=newpod` on the server port, so every new pod is
 * isolated from its start and needs its identity, its endpoint entry and the policy entries
 * for that identity on its node before anything reaches it (a pod whose identity is not
 * known yet is closed: docs/datapath.md). Pods are created one at a time through the API
 * (`POST`, t0 just before it), alternating between node-2 (the client is on node-1) and
 * node-1, and between a label set shared by every such pod (like a Deployment's: the
 * identity exists after the first) and one of their own (a new identity to allocate,
 * compile and distribute). As soon as the stand-in kubelet runs the pod (namespace, CNI ADD,
 * port served), the client's probe stream aims at its address; the figure is the launch of
 * the first probe that passes.
 *
 * Baselines, same pods: creation → the stand-in kubelet runs it, and creation → a watch in
 * this process sees it Ready (the kubelet's part, what any pod waits for without Palisade).
 */
import { performance } from 'node:perf_hooks';
import { Resources } from '@palisade/operator';
import type { ProbeAgent } from '@palisade/shim/testing';
import type { Lab } from '../lab/lab.js';
import { latencyStats, progress, sleep, type LatencyStats } from './benchKit.js';
import type { ProbeStream } from './labProbeStream.js';
import { cniTimes, type CniResult } from './labCni.js';
import { WatchClock } from './labWatchClock.js';
import {
  BENCH_NS,
  kubectlApply,
  podObject,
  policyObject,
  readyStamp,
  runningPod,
  SERVER_PORT,
  seqStamp,
} from './labWorkload.js';

/** Figures of one group of pods. */
export interface PodGroup {
  readonly what: string;
  /** creation → first allowed connection. */
  readonly allowed: LatencyStats;
  /** creation → Ready seen by a watch (baseline). */
  readonly ready: LatencyStats;
  /** creation → the kubelet runs it (baseline). */
  readonly running: LatencyStats;
  /** first allowed − Ready, per pod (negative: allowed before the Ready status was seen). */
  readonly afterReady: LatencyStats;
  /** first allowed − running, per pod (the probe cannot start earlier). */
  readonly afterRunning: LatencyStats;
}

/** The section's figures. */
export interface PodResult {
  readonly pods: number;
  readonly groups: readonly PodGroup[];
  /** Pods whose first allowed connection never came within the deadline. */
  readonly missed: number;
  readonly flaps: number;
  /** Per pod: probes launched once the kubelet ran it that failed before the first pass. */
  readonly failedFirst: LatencyStats;
  /** How those failed (the last error seen), with counts. */
  readonly failedHow: Record<string, number>;
  /**
   * Pods that refused a probe from a pod the policy does not admit, right after the client's
   * first allowed connection (they must all: the policy isolates them).
   */
  readonly isolated: number;
  /** The CNI plugin's ADD / DEL on the client's node (Palisade's part of "the kubelet runs it"). */
  readonly cni: CniResult;
}

interface Sample {
  readonly node: string;
  readonly identity: 'shared' | 'own';
  readonly allowed: number | undefined;
  readonly ready: number;
  readonly running: number;
  readonly flaps: number;
  readonly before: number;
  readonly error: string | undefined;
}

const DEADLINE_MS = 30_000;
const GAP_MS = 300;
const CNI_RUNS = 10;

function group(what: string, samples: readonly Sample[]): PodGroup {
  const hit = samples.filter((s) => s.allowed !== undefined);
  return {
    what,
    allowed: latencyStats(hit.map((s) => s.allowed ?? 0)),
    ready: latencyStats(samples.map((s) => s.ready)),
    running: latencyStats(samples.map((s) => s.running)),
    afterReady: latencyStats(hit.map((s) => (s.allowed ?? 0) - s.ready)),
    afterRunning: latencyStats(hit.map((s) => (s.allowed ?? 0) - s.running)),
  };
}

/** Runs the section: `pods` new pods, probed from the client's stream. */
export async function podSection(
  lab: Lab,
  stream: ProbeStream,
  pods: number,
  clientNode: string,
  otherNode: string,
  outsider: ProbeAgent,
): Promise<PodResult> {
  const podWatch = await WatchClock.start({
    client: lab.client,
    resource: Resources.pods,
    namespace: BENCH_NS,
    stamp: readyStamp,
  });
  const npWatch = await WatchClock.start({
    client: lab.client,
    resource: Resources.networkPolicies,
    namespace: BENCH_NS,
    stamp: seqStamp,
  });
  const samples: Sample[] = [];
  const names: string[] = [];
  let isolated = 0;
  let cni: CniResult;
  try {
    await kubectlApply(lab, policyObject('bench-newpods', 'newpod', 'allow', 1));
    await npWatch.seen('bench-newpods#1');
    await sleep(1000); // compiled and distributed long before the first pod
    for (let i = 0; i < pods; i++) {
      const node = i % 2 === 0 ? otherNode : clientNode;
      const identity = Math.floor(i / 2) % 2 === 0 ? 'shared' : 'own';
      const name = `newpod-${i}`;
      const labels: Record<string, string> = {
        app: 'newpod',
        ...(identity === 'shared' ? { 'pod-template-hash': 'bench' } : { 'bench-pod': name }),
      };
      names.push(name);
      const t0 = performance.now();
      await lab.client.create(Resources.pods, podObject(name, node, labels));
      const ready = podWatch.seen(`${name}#ready`, DEADLINE_MS);
      ready.catch(() => undefined); // awaited below
      const run = await runningPod(lab, name, DEADLINE_MS);
      stream.aim(run.pod.ip, SERVER_PORT);
      const obs = await stream.observe(true, run.at, { deadlineMs: DEADLINE_MS });
      stream.pause();
      if (!(await outsider.probe('tcp', run.pod.ip, SERVER_PORT, { timeoutMs: 200 })).ok)
        isolated++;
      samples.push({
        node,
        identity,
        allowed: obs.at === undefined ? undefined : obs.at - t0,
        ready: (await ready) - t0,
        running: run.at - t0,
        flaps: obs.flaps,
        before: obs.before,
        error: obs.lastError,
      });
      if (obs.at === undefined)
        progress(
          `  ${name} on ${node}: no allowed connection within ${DEADLINE_MS} ms (last probe error: ${obs.lastError ?? 'none'})`,
        );
      if ((i + 1) % 8 === 0 || i + 1 === pods)
        progress(
          `  ${i + 1}/${pods} pods; last: allowed ${samples.at(-1)?.allowed?.toFixed(0) ?? '—'} ms, Ready ${samples.at(-1)?.ready.toFixed(0) ?? '?'} ms after creation`,
        );
      stream.trim(performance.now() - 5000);
      await sleep(GAP_MS);
    }
    // Before the pods are deleted: the kubelet's CNI DELs would run alongside.
    progress(`  CNI ADD/DEL on ${clientNode}, ${CNI_RUNS} times`);
    cni = await cniTimes(lab.slot, lab.node(clientNode), CNI_RUNS);
  } finally {
    stream.pause();
    await podWatch.stop();
    await npWatch.stop();
    for (const n of names)
      await lab.client.delete(Resources.pods, n, BENCH_NS).catch(() => undefined);
  }
  const on = (f: (s: Sample) => boolean): Sample[] => samples.filter(f);
  return {
    pods,
    groups: [
      group('all', samples),
      group(
        `other node (${otherNode})`,
        on((s) => s.node === otherNode),
      ),
      group(
        `same node (${clientNode})`,
        on((s) => s.node === clientNode),
      ),
      group(
        'shared identity',
        on((s) => s.identity === 'shared'),
      ),
      group(
        'own identity',
        on((s) => s.identity === 'own'),
      ),
    ],
    isolated,
    missed: samples.filter((s) => s.allowed === undefined).length,
    flaps: samples.reduce((a, s) => a + s.flaps, 0),
    failedFirst: latencyStats(samples.map((s) => s.before)),
    failedHow: samples.reduce<Record<string, number>>((a, s) => {
      if (s.error !== undefined) a[s.error] = (a[s.error] ?? 0) + 1;
      return a;
    }, {}),
    cni,
  };
}
