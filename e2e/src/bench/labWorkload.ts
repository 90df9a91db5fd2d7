/**
 * The objects the lab benchmark applies, and waiting for the stand-in kubelet to run a pod.
 */
import { performance } from 'node:perf_hooks';
import type { KubeObject, Resource } from '@palisade/operator';
import type { Lab } from '../lab/lab.js';
import type { RunningPod } from '../lab/podRuntime.js';
import { sleep } from './benchKit.js';

/** The benchmark's namespace. */
export const BENCH_NS = 'lab-bench';
/** The port every benchmark server pod declares (the kubelet serves it with an echo server). */
export const SERVER_PORT = 8080;
/** The annotation (or ConfigMap key) carrying the write's sequence number. */
export const SEQ_KEY = 'bench.palisade.dev/seq';

/** A pod pinned to `node` with `labels`, declaring {@link SERVER_PORT}. */
export function podObject(name: string, node: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: BENCH_NS, labels },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      containers: [
        {
          name: 'server',
          image: 'palisade/echo',
          ports: [{ name: 'echo', containerPort: SERVER_PORT, protocol: 'TCP' }],
        },
      ],
    },
  };
}

/**
 * A NetworkPolicy selecting `app=<app>`: `deny` isolates it for ingress with no rule (every
 * connection to it is dropped), `allow` admits `app=client` on {@link SERVER_PORT}.
 */
export function policyObject(
  name: string,
  app: string,
  verdict: 'deny' | 'allow',
  seq: number,
): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: BENCH_NS, annotations: { [SEQ_KEY]: String(seq) } },
    spec: {
      podSelector: { matchLabels: { app } },
      policyTypes: ['Ingress'],
      ingress:
        verdict === 'deny'
          ? []
          : [
              {
                from: [{ podSelector: { matchLabels: { app: 'client' } } }],
                ports: [{ protocol: 'TCP', port: SERVER_PORT }],
              },
            ],
    },
  };
}

/** The baseline object: a ConfigMap whose data changes with `seq`. */
export function configMapObject(name: string, seq: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: BENCH_NS, annotations: { [SEQ_KEY]: String(seq) } },
    data: { seq: String(seq) },
  };
}

/** Ingresses (networking.k8s.io/v1, the NetworkPolicy's API group; nothing in the lab watches them). */
export const INGRESSES: Resource = {
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'ingresses',
  kind: 'Ingress',
  namespaced: true,
};

/**
 * The other baseline object: an Ingress whose annotation changes with `seq`. kubectl does the
 * same work for it as for a NetworkPolicy (same API group, so the same OpenAPI document to
 * fetch and parse; a ConfigMap's is the whole core group's, ~80 ms more per apply).
 */
export function ingressObject(name: string, seq: number): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: BENCH_NS, annotations: { [SEQ_KEY]: String(seq) } },
    spec: { defaultBackend: { service: { name: 'none', port: { number: SERVER_PORT } } } },
  };
}

/** `name#seq` of an object carrying {@link SEQ_KEY}, for a WatchClock. */
export function seqStamp(obj: KubeObject): string | undefined {
  const seq = obj.metadata.annotations?.[SEQ_KEY];
  return seq === undefined ? undefined : `${obj.metadata.name}#${seq}`;
}

/** `name#ready` once a pod's Ready condition is True, for a WatchClock. */
export function readyStamp(obj: KubeObject): string | undefined {
  const conds = (obj['status'] as { conditions?: { type: string; status: string }[] } | undefined)
    ?.conditions;
  return conds?.some((c) => c.type === 'Ready' && c.status === 'True')
    ? `${obj.metadata.name}#ready`
    : undefined;
}

/** `kubectl apply -f -` of `obj`; resolves with when kubectl exited (throws on failure). */
export async function kubectlApply(lab: Lab, obj: KubeObject): Promise<number> {
  const r = await lab.kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  const at = performance.now();
  if (r.code !== 0)
    throw new Error(`kubectl apply of ${obj.kind} ${obj.metadata.name}: ${r.stderr.trim()}`);
  return at;
}

/**
 * Waits until the stand-in kubelet runs `namespace/name` (its namespace wired by CNI ADD and
 * its ports served); polls every `everyMs`. Resolves with the pod and when it was seen.
 */
export async function runningPod(
  lab: Lab,
  name: string,
  deadlineMs = 60_000,
  everyMs = 2,
): Promise<{ pod: RunningPod; at: number }> {
  const key = `${BENCH_NS}/${name}`;
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const pod = lab.kubelet.pod(key);
    if (pod) return { pod, at: performance.now() };
    if (performance.now() > deadline)
      throw new Error(`the lab's kubelet did not run ${key} within ${deadlineMs} ms`);
    await sleep(everyMs);
  }
}
