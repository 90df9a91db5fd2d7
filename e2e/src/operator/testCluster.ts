/**
 * Helpers for the operator suites: objects in a real apiserver (pods get their status
 * written through the status subresource, as a kubelet would), an operator run in-process
 * with short timings, and polling.
 */
import {
  CrdIdentityStore,
  jsonLogger,
  KubeClient,
  Operator,
  OperatorMetrics,
  Resources,
  silentLogger,
  type DeltaEvent,
  type IdentityStore,
  type KubeObject,
  type Logger,
} from '@palisade/operator';
import type { ControlPlane } from '../harness/controlPlane.js';

/** The operator's namespace in the suites. */
export const OPERATOR_NS = 'palisade-system';

/** A logger for suites: silent unless PALISADE_E2E_LOG=1. */
export function testLogger(name: string): Logger {
  return process.env.PALISADE_E2E_LOG === '1' ? jsonLogger(name, { level: 'debug' }) : silentLogger;
}

/** An admin client for the control plane. */
export function adminClient(cp: ControlPlane): KubeClient {
  return KubeClient.load(cp.kubeconfigPath);
}

/** Polls `cond` every 25 ms until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Creates a namespace (idempotent). */
export async function ensureNamespace(
  client: KubeClient,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const have = await client.get(Resources.namespaces, name);
  if (have) {
    await client.mergePatch(Resources.namespaces, name, undefined, { metadata: { labels } });
    return;
  }
  await client.create(Resources.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels },
  });
}

/** What a test pod looks like. */
export interface TestPod {
  readonly namespace: string;
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly ips?: readonly string[];
  readonly node?: string;
  readonly hostNetwork?: boolean;
  readonly ports?: readonly { name?: string; containerPort: number; protocol?: string }[];
}

/** The Pod object for a test pod (spec and status). */
export function podObject(p: TestPod): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels } },
    spec: {
      ...(p.node ? { nodeName: p.node } : {}),
      ...(p.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'c', image: 'registry.invalid/none', ports: [...(p.ports ?? [])] }],
    },
    status: {
      phase: 'Running',
      ...(p.ips && p.ips.length > 0
        ? { podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) }
        : {}),
    },
  };
}

/** Creates a pod and writes its status (IPs, Running) like a kubelet. */
export async function createPod(client: KubeClient, p: TestPod): Promise<void> {
  const obj = podObject(p);
  await client.create(Resources.pods, { ...obj, status: undefined });
  if (p.ips && p.ips.length > 0)
    await client.mergePatch(Resources.pods, p.name, p.namespace, { status: obj.status }, 'status');
}

/** Deletes a pod at once (no kubelet to wait for). */
export async function deletePod(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<void> {
  await client
    .request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 },
    })
    .catch((err: unknown) => {
      if (!(err instanceof Error && /404/.test(err.message))) throw err;
    });
}

/** A running in-process operator. */
export interface RunningOperator {
  readonly operator: Operator;
  readonly metrics: OperatorMetrics;
  readonly deltas: DeltaEvent[];
  readonly store: IdentityStore;
  /** Graceful stop (releases the lease). */
  stop(): Promise<void>;
}

/** Options for {@link startOperator}. */
export interface StartOperatorOptions {
  readonly id?: string;
  readonly store?: IdentityStore;
  readonly graceMs?: number;
  readonly gcIntervalMs?: number;
  readonly highCardinalityThreshold?: number;
  readonly waitReady?: boolean;
  /** How long to wait for readiness (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** Default: {@link testLogger}. */
  readonly logger?: Logger;
}

/** Starts an operator in-process with test timings (lease 3 s, renew 2 s, retry 250 ms). */
export async function startOperator(
  cp: ControlPlane,
  o: StartOperatorOptions = {},
): Promise<RunningOperator> {
  const client = adminClient(cp);
  const log = o.logger ?? testLogger(o.id ?? 'operator');
  const store = o.store ?? new CrdIdentityStore({ client, namespace: OPERATOR_NS, logger: log });
  const metrics = new OperatorMetrics({ defaultMetrics: false });
  const operator = new Operator({
    client,
    store,
    metrics,
    namespace: OPERATOR_NS,
    identity: o.id ?? 'op-a',
    leaseDurationSeconds: 3,
    renewDeadlineMs: 2000,
    retryPeriodMs: 250,
    identityGraceMs: o.graceMs ?? 60_000,
    identityGcIntervalMs: o.gcIntervalMs ?? 250,
    ...(o.highCardinalityThreshold !== undefined
      ? { highCardinalityThreshold: o.highCardinalityThreshold }
      : {}),
    logger: log,
  });
  const deltas: DeltaEvent[] = [];
  operator.onDelta((e) => deltas.push(e));
  const ac = new AbortController();
  const running = operator.run(ac.signal);
  const stop = async (): Promise<void> => {
    ac.abort();
    await running;
    await store.close();
    client.close();
  };
  if (o.waitReady ?? true)
    try {
      await waitFor(
        'operator ready as leader',
        () => operator.isLeader && operator.ready().ok,
        o.readyTimeoutMs ?? 30_000,
      );
    } catch (err) {
      await stop();
      throw err;
    }
  return { operator, metrics, deltas, store, stop };
}

/** pod key → identity number, from a leading operator's compiled endpoints. */
export function podIdentities(op: RunningOperator): Map<string, number> {
  const e = op.operator.engine;
  if (!e) throw new Error('the operator does not lead: it has no compiled state');
  return new Map([...e.compiled.endpoints.values()].map((ep) => [ep.pod, ep.identity]));
}
