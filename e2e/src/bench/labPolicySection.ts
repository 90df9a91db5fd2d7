/**
 * Section 1 of the lab benchmark: `kubectl apply` of a NetworkPolicy → the first probe that
 * reflects it (ClusterLoader2's NetworkPolicyEnforcement shape), on a real lab.
 *
 * A client pod on node-1 probes a server pod continuously (TCP connect + echo every 15 ms, 50
 * ms timeout, on several agents). Per iteration a NetworkPolicy selecting the server is
 * applied as *deny* (ingress isolation, no rule) and the time until the probes fail is
 * measured, then the same policy is applied as *allow* (ingress from the client on the port)
 * and the time until they pass again. t0 is taken just before kubectl is started; the
 * observation is the launch of the first probe showing the new verdict (confirmed by the
 * next two). Server on node-2 (other node) and on node-1 (same node as the client).
 *
 * Baselines, from the same run, interleaved: after each deny apply, `kubectl apply` of an
 * Ingress (the NetworkPolicy's API group, so kubectl does the same work; nothing watches
 * it), after each allow apply one of a ConfigMap, each timed until a watch in this process
 * receives it; and, for the policy itself, until that watch receives the policy (kubectl's
 * and the apiserver's part, before the operator, the distribution and the shim do anything)
 * and until kubectl exits.
 */
import { performance } from 'node:perf_hooks';
import { Resources } from '@palisade/operator';
import type { Lab } from '../lab/lab.js';
import type { RunningPod } from '../lab/podRuntime.js';
import { latencyStats, progress, sleep, type LatencyStats } from './benchKit.js';
import type { ProbeStream } from './labProbeStream.js';
import { WatchClock } from './labWatchClock.js';
import {
  BENCH_NS,
  configMapObject,
  ingressObject,
  INGRESSES,
  kubectlApply,
  policyObject,
  SERVER_PORT,
  seqStamp,
} from './labWorkload.js';

/** A server to measure against. */
export interface PolicyTarget {
  /** `other node` or `same node` (relative to the client). */
  readonly placement: string;
  /** The server's `app` label. */
  readonly app: string;
  readonly pod: RunningPod;
}

/** The figures of one direction (deny or allow) at one placement. */
export interface DirectionResult {
  /** apply → first probe showing it. */
  readonly reflected: LatencyStats;
  /** apply → the watch got the policy (the apiserver's part). */
  readonly watchSeen: LatencyStats;
  /** reflected − watch got it, per sample: operator + distribution + shim + datapath. */
  readonly afterWatch: LatencyStats;
  /** apply → kubectl exited. */
  readonly kubectlExit: LatencyStats;
  /** Applies whose effect was never observed within the deadline. */
  readonly missed: number;
  /** Verdicts that showed and reverted before they were confirmed. */
  readonly flaps: number;
}

/** The section's figures. */
export interface PolicyResult {
  readonly iterations: number;
  readonly placements: readonly {
    placement: string;
    deny: DirectionResult;
    allow: DirectionResult;
  }[];
  /** Every policy apply, both directions and placements. */
  readonly allReflected: LatencyStats;
  readonly allAfterWatch: LatencyStats;
  readonly baseline: {
    /** Ingress apply → the watch got it. */
    readonly ingressWatch: LatencyStats;
    /** ConfigMap apply → the watch got it. */
    readonly configMapWatch: LatencyStats;
    /** ConfigMap apply → kubectl exited. */
    readonly configMapKubectlExit: LatencyStats;
  };
  readonly probes: { launched: number; skipped: number; agentErrors: number };
}

interface Sample {
  readonly reflected: number | undefined;
  readonly watchSeen: number;
  readonly kubectlExit: number;
  readonly flaps: number;
}

const DEADLINE_MS = 20_000;
/** Pause between two applies. */
const GAP_MS = 50;

function direction(samples: readonly Sample[]): DirectionResult {
  const hit = samples.filter((s) => s.reflected !== undefined);
  return {
    reflected: latencyStats(hit.map((s) => s.reflected ?? 0)),
    watchSeen: latencyStats(samples.map((s) => s.watchSeen)),
    afterWatch: latencyStats(hit.map((s) => (s.reflected ?? 0) - s.watchSeen)),
    kubectlExit: latencyStats(samples.map((s) => s.kubectlExit)),
    missed: samples.length - hit.length,
    flaps: samples.reduce((a, s) => a + s.flaps, 0),
  };
}

/** Runs the section: `iterations` deny/allow pairs per target. */
export async function policySection(
  lab: Lab,
  stream: ProbeStream,
  targets: readonly PolicyTarget[],
  iterations: number,
): Promise<PolicyResult> {
  const npWatch = await WatchClock.start({
    client: lab.client,
    resource: Resources.networkPolicies,
    namespace: BENCH_NS,
    stamp: seqStamp,
  });
  const cmWatch = await WatchClock.start({
    client: lab.client,
    resource: Resources.configMaps,
    namespace: BENCH_NS,
    stamp: seqStamp,
  });
  const ingWatch = await WatchClock.start({
    client: lab.client,
    resource: INGRESSES,
    namespace: BENCH_NS,
    stamp: seqStamp,
  });
  let seq = Date.now();
  const cmWatchMs: number[] = [];
  const cmExitMs: number[] = [];
  const ingWatchMs: number[] = [];
  const all: Sample[] = [];
  const placements: PolicyResult['placements'][number][] = [];
  try {
    // kubectl's first runs fill its discovery and OpenAPI caches: not samples.
    await kubectlApply(lab, configMapObject('bench-baseline', ++seq));
    await kubectlApply(lab, ingressObject('bench-baseline', ++seq));
    await kubectlApply(lab, policyObject('bench-warmup', 'nothing', 'deny', ++seq));
    await lab.client.delete(Resources.networkPolicies, 'bench-warmup', BENCH_NS);
    for (const t of targets) {
      const name = `bench-${t.app}`;
      stream.aim(t.pod.ip, SERVER_PORT);
      const open = await stream.observe(true, performance.now(), { deadlineMs: DEADLINE_MS });
      if (open.at === undefined)
        throw new Error(
          `the client cannot reach ${t.app} (${t.pod.ip}:${SERVER_PORT}) before any policy: ${open.lastError ?? '?'}`,
        );
      const by: Record<'deny' | 'allow', Sample[]> = { deny: [], allow: [] };
      for (let i = 0; i < iterations; i++) {
        for (const verdict of ['deny', 'allow'] as const) {
          const s = ++seq;
          const t0 = performance.now();
          const exit = kubectlApply(lab, policyObject(name, t.app, verdict, s));
          const seen = npWatch.seen(`${name}#${s}`, DEADLINE_MS);
          // Awaited below; a rejection meanwhile must not count as unhandled.
          exit.catch(() => undefined);
          seen.catch(() => undefined);
          const obs = await stream.observe(verdict === 'allow', t0, { deadlineMs: DEADLINE_MS });
          const sample: Sample = {
            reflected: obs.at === undefined ? undefined : obs.at - t0,
            watchSeen: (await seen) - t0,
            kubectlExit: (await exit) - t0,
            flaps: obs.flaps,
          };
          by[verdict].push(sample);
          all.push(sample);
          if (obs.at === undefined)
            progress(
              `  ${t.placement}: ${verdict} #${i + 1} not observed within ${DEADLINE_MS} ms (last probe error: ${obs.lastError ?? 'none'})`,
            );
          await sleep(GAP_MS);
          // The baseline, interleaved: an Ingress after a deny, a ConfigMap after an allow.
          const c = ++seq;
          const c0 = performance.now();
          if (verdict === 'deny') {
            const cExit = kubectlApply(lab, ingressObject('bench-baseline', c));
            cExit.catch(() => undefined);
            ingWatchMs.push((await ingWatch.seen(`bench-baseline#${c}`, DEADLINE_MS)) - c0);
            await cExit;
          } else {
            const cExit = kubectlApply(lab, configMapObject('bench-baseline', c));
            cExit.catch(() => undefined);
            cmWatchMs.push((await cmWatch.seen(`bench-baseline#${c}`, DEADLINE_MS)) - c0);
            cmExitMs.push((await cExit) - c0);
          }
          await sleep(GAP_MS);
          stream.trim(performance.now() - 5000);
        }
        if ((i + 1) % 10 === 0 || i + 1 === iterations)
          progress(
            `  ${t.placement}: ${i + 1}/${iterations} deny/allow pairs; last: deny ${by.deny.at(-1)?.reflected?.toFixed(0) ?? '—'} ms, allow ${by.allow.at(-1)?.reflected?.toFixed(0) ?? '—'} ms`,
          );
      }
      await lab.client.delete(Resources.networkPolicies, name, BENCH_NS);
      placements.push({
        placement: t.placement,
        deny: direction(by.deny),
        allow: direction(by.allow),
      });
    }
  } finally {
    stream.pause();
    await npWatch.stop();
    await cmWatch.stop();
    await ingWatch.stop();
  }
  const hit = all.filter((s) => s.reflected !== undefined);
  return {
    iterations,
    placements,
    allReflected: latencyStats(hit.map((s) => s.reflected ?? 0)),
    allAfterWatch: latencyStats(hit.map((s) => (s.reflected ?? 0) - s.watchSeen)),
    baseline: {
      ingressWatch: latencyStats(ingWatchMs),
      configMapWatch: latencyStats(cmWatchMs),
      configMapKubectlExit: latencyStats(cmExitMs),
    },
    probes: { launched: stream.launched, skipped: stream.skipped, agentErrors: stream.agentErrors },
  };
}
