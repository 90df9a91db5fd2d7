/**
 * Section 3: from a policy write to its compiled delta in the operator, on the populated
 * cluster, one policy at a time.
 *
 * t0 is taken just before the API call (or before kubectl is started), t1 in the operator's
 * `onDelta` listener when a delta lists that policy's key. Each policy is created, then
 * updated (a merge patch that changes its ports, so the generation moves); NetworkPolicies
 * and PalisadeNetworkPolicies alternate (the latter take one more round trip: the operator
 * adds its finalizer before it compiles). The baseline is the round trip of a plain
 * ConfigMap create and merge patch on the same apiserver, and for kubectl the same
 * `kubectl apply -f -` of a ConfigMap.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Resources, type KubeClient, type KubeObject } from '@palisade/operator';
import type { ControlPlane } from '../harness/controlPlane.js';
import { latencyStats, fmtMs, fmtStats, progress, sleep, type LatencyStats } from './benchKit.js';
import {
  namespaceName,
  policyKeyOf,
  policyObject,
  policyResource,
  type ClusterShape,
} from './clusterLoad.js';
import type { BenchOperator } from './inProcessOperator.js';

/** The section's figures. */
export interface LatencyResult {
  readonly policies: number;
  readonly api: { create: LatencyStats; update: LatencyStats; all: LatencyStats };
  readonly apiByKind: { networkPolicy: LatencyStats; palisadeNetworkPolicy: LatencyStats };
  /**
   * The API samples split by the operator's own time stamps (ms resolution): write → its
   * informer got the change (`seenAt`; for a PalisadeNetworkPolicy create, the event after
   * the finalizer was added), → the delta was computed (`DeltaEvent.at`: queue, reconcile,
   * compile), → the delta reached the listeners (the operator's per-delta bookkeeping).
   */
  readonly split: {
    writeToSeen: LatencyStats;
    seenToDelta: LatencyStats;
    deltaToListener: LatencyStats;
  };
  readonly baselineConfigMap: LatencyStats;
  readonly kubectl: {
    policy: LatencyStats;
    /** kubectl's own wall time for those policy applies (the delta may come before it exits). */
    policyKubectlExit: LatencyStats;
    baselineConfigMap: LatencyStats;
  };
  /** Writes whose delta never came within the timeout. */
  readonly missed: number;
}

const DELTA_TIMEOUT_MS = 15_000;
/** Pause between samples, so the previous policy's status write is not in the next sample. */
const GAP_MS = 10;

/** When the delta naming a key came, and when the operator had seen that change. */
interface DeltaSeen {
  /** `performance.now()` in the listener. */
  readonly at: number;
  /** The operator's `seenAt` for the key (ms since the epoch): its informer got the change. */
  readonly seenAt: number;
  /** The delta's `at` (ms since the epoch). */
  readonly deltaAt: number;
  /** `Date.now()` in the listener. */
  readonly atEpoch: number;
}

/** Resolves waiters when a delta names their policy key. */
class DeltaWatch {
  private readonly waiting = new Map<string, (seen: DeltaSeen) => void>();

  constructor(op: BenchOperator) {
    op.operator.onDelta((e) => {
      const at = performance.now();
      for (const p of e.policies) {
        const w = this.waiting.get(p.key);
        if (w) {
          this.waiting.delete(p.key);
          w({ at, seenAt: p.seenAt, deltaAt: e.at, atEpoch: Date.now() });
        }
      }
    });
  }

  /** The next delta naming `key`, or undefined after a timeout. */
  next(key: string): Promise<DeltaSeen | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        resolve(undefined);
      }, DELTA_TIMEOUT_MS);
      this.waiting.set(key, (seen) => {
        clearTimeout(timer);
        resolve(seen);
      });
    });
  }
}

/** `kubectl apply -f -` with `input`, as the harness runs kubectl; resolves when it exits. */
function kubectlApply(cp: ControlPlane, input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cp.kubectlPath, ['--kubeconfig', cp.kubeconfigPath, 'apply', '-f', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, KUBECACHEDIR: join(cp.dir, 'kube-cache') },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`kubectl apply failed: ${err}`)),
    );
    child.stdin.end(input);
  });
}

function updated(obj: KubeObject): KubeObject {
  const spec = obj['spec'] as Record<string, unknown>;
  // Every shape has an ingress rule with ports: move them, so the compiled entries change.
  const ingress = (spec['ingress'] as Record<string, unknown>[] | undefined) ?? [];
  return {
    ...obj,
    spec: {
      ...spec,
      ingress: ingress.map((r) => ({ ...r, ports: [{ port: 9090, protocol: 'TCP' }] })),
    },
  };
}

/** Runs the section; `op` must be leading and ready on the populated cluster. */
export async function latencySection(
  cp: ControlPlane,
  client: KubeClient,
  shape: ClusterShape,
  op: BenchOperator,
  count: number,
  kubectlCount: number,
): Promise<LatencyResult> {
  const watch = new DeltaWatch(op);
  let missed = 0;
  let lastWriteMs = 0;
  const toSeen: number[] = [];
  const seenToDelta: number[] = [];
  const deltaToListener: number[] = [];
  const sample = async (
    key: string,
    write: () => Promise<unknown>,
    split = false,
  ): Promise<number> => {
    const next = watch.next(key);
    const t0Epoch = Date.now();
    const t0 = performance.now();
    await write();
    lastWriteMs = performance.now() - t0;
    const seen = await next;
    await sleep(GAP_MS);
    if (seen === undefined) {
      missed++;
      progress(`no delta for ${key} within ${DELTA_TIMEOUT_MS} ms`);
      return DELTA_TIMEOUT_MS;
    }
    if (split) {
      toSeen.push(Math.max(0, seen.seenAt - t0Epoch));
      seenToDelta.push(Math.max(0, seen.deltaAt - seen.seenAt));
      deltaToListener.push(Math.max(0, seen.atEpoch - seen.deltaAt));
    }
    return seen.at - t0;
  };

  const baseline: number[] = [];
  const cmNs = namespaceName(0);
  for (let i = 0; i < count; i++) {
    const name = `lat-cm-${i}`;
    let t0 = performance.now();
    await client.create(Resources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: cmNs },
      data: { port: '8080' },
    });
    baseline.push(performance.now() - t0);
    t0 = performance.now();
    await client.mergePatch(Resources.configMaps, name, cmNs, { data: { port: '9090' } });
    baseline.push(performance.now() - t0);
  }
  progress(`baseline: ConfigMap create/patch round trip ${fmtStats(latencyStats(baseline))}`);

  const creates: number[] = [];
  const updates: number[] = [];
  const np: number[] = [];
  const pnp: number[] = [];
  for (let i = 0; i < count; i++) {
    const obj = policyObject(shape, i % shape.namespaces, i, `lat-${i}`);
    const res = policyResource(obj);
    const key = policyKeyOf(obj);
    const byKind = obj.kind === 'NetworkPolicy' ? np : pnp;
    const c = await sample(key, () => client.create(res, obj), true);
    const next = updated(obj);
    const u = await sample(
      key,
      () =>
        client.mergePatch(res, obj.metadata.name, obj.metadata.namespace, { spec: next['spec'] }),
      true,
    );
    creates.push(c);
    updates.push(u);
    byKind.push(c, u);
    if ((i + 1) % 50 === 0)
      progress(
        `policy → delta: ${i + 1}/${count} (${fmtStats(latencyStats([...creates, ...updates]))})`,
      );
  }

  // Warm-up (not counted): kubectl's first run against a server fills its discovery cache.
  await kubectlApply(
    cp,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'lat-kubectl-warm-up', namespace: cmNs },
    }),
  );
  const kubectlBaseline: number[] = [];
  const kubectlPolicy: number[] = [];
  const kubectlExit: number[] = [];
  for (let i = 0; i < kubectlCount; i++) {
    const cm = (port: string): string =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `lat-kubectl-cm-${i}`, namespace: cmNs },
        data: { port },
      });
    for (const port of ['8080', '9090']) {
      const t0 = performance.now();
      await kubectlApply(cp, cm(port));
      kubectlBaseline.push(performance.now() - t0);
    }
    const obj = policyObject(shape, i % shape.namespaces, i, `lat-kubectl-${i}`);
    const key = policyKeyOf(obj);
    kubectlPolicy.push(await sample(key, () => kubectlApply(cp, JSON.stringify(obj))));
    kubectlExit.push(lastWriteMs);
    kubectlPolicy.push(await sample(key, () => kubectlApply(cp, JSON.stringify(updated(obj)))));
    kubectlExit.push(lastWriteMs);
  }
  progress(`kubectl apply → delta: ${fmtStats(latencyStats(kubectlPolicy))}`);
  return {
    policies: count,
    api: {
      create: latencyStats(creates),
      update: latencyStats(updates),
      all: latencyStats([...creates, ...updates]),
    },
    apiByKind: { networkPolicy: latencyStats(np), palisadeNetworkPolicy: latencyStats(pnp) },
    split: {
      writeToSeen: latencyStats(toSeen),
      seenToDelta: latencyStats(seenToDelta),
      deltaToListener: latencyStats(deltaToListener),
    },
    baselineConfigMap: latencyStats(baseline),
    kubectl: {
      policy: latencyStats(kubectlPolicy),
      policyKubectlExit: latencyStats(kubectlExit),
      baselineConfigMap: latencyStats(kubectlBaseline),
    },
    missed,
  };
}

/** The section as report lines. */
export function formatLatency(r: LatencyResult, namespaceCount: number): string[] {
  const row = (what: string, s: LatencyStats): string => `  ${what.padEnd(44)} ${fmtStats(s)}`;
  return [
    `3. Policy write → compiled delta in the operator (${r.policies} policies over ${Math.min(r.policies, namespaceCount)} namespaces, each created then updated, one at a time)`,
    row('baseline: ConfigMap create/patch round trip', r.baselineConfigMap),
    row('API create → delta', r.api.create),
    row('API update → delta', r.api.update),
    row('API create + update → delta', r.api.all),
    row('  NetworkPolicy', r.apiByKind.networkPolicy),
    row('  PalisadeNetworkPolicy (+ finalizer round trip)', r.apiByKind.palisadeNetworkPolicy),
    row('  split: write → operator informer', r.split.writeToSeen),
    row('         informer → delta (queue+compile)', r.split.seenToDelta),
    row('         delta → listeners (bookkeeping)', r.split.deltaToListener),
    `  beyond the apiserver round trip: p50 ${signedMs(r.api.all.p50 - r.baselineConfigMap.p50)}, p99 ${signedMs(r.api.all.p99 - r.baselineConfigMap.p99)} (differences of percentiles)`,
    row('baseline: kubectl apply of a ConfigMap', r.kubectl.baselineConfigMap),
    row('kubectl apply → delta', r.kubectl.policy),
    row('  (kubectl apply of those policies → exit)', r.kubectl.policyKubectlExit),
    ...(r.missed > 0 ? [`  MISSED: ${r.missed} writes produced no delta within 15 s`] : []),
  ];
}

function signedMs(ms: number): string {
  return ms < 0 ? `−${fmtMs(-ms)}` : `+${fmtMs(ms)}`;
}
