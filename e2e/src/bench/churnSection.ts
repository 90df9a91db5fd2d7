/**
 * Section 4: identity GC under pod churn (design §9: keep up with 100 pods/s).
 *
 * With an operator running in this process (short grace, fast GC), pods with a label set of
 * their own are created at a target rate (create + status with an IP, as a kubelet would)
 * and each is deleted about a second after its creation completed. The generator keeps at
 * most a bounded number of requests in flight, so when the apiserver cannot take the rate
 * it falls behind and the achieved rate is what is reported. The operator's counters give
 * identities allocated and freed per second (over the whole churn window, and over its
 * second half, after the first identities could have aged past the grace); the number of
 * identities in the store before the churn is compared with the number 2× grace after the
 * last pod was deleted, and the time until it is back is measured.
 */
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '@palisade/operator';
import { createPod, deletePod, ensureNamespace } from '../operator/testCluster.js';
import { fmtInt, fmtMs, progress, sleep } from './benchKit.js';
import { podIp } from './clusterLoad.js';
import { metricTotal, type BenchOperator } from './inProcessOperator.js';

/** The section's figures for one store. */
export interface ChurnResult {
  readonly store: string;
  readonly targetPerSecond: number;
  readonly seconds: number;
  readonly graceMs: number;
  readonly gcIntervalMs: number;
  readonly created: number;
  readonly createdPerSecond: number;
  readonly deletedPerSecond: number;
  readonly failed: number;
  readonly allocatedPerSecond: number;
  readonly freedPerSecond: number;
  /** Over the second half of the churn window. */
  readonly allocatedPerSecondSteady: number;
  readonly freedPerSecondSteady: number;
  /** Median latency of a churn pod create + status write (ms). */
  readonly createMs: number;
  readonly maxQueueDepth: number;
  readonly identitiesBefore: number;
  readonly identitiesAfter2xGrace: number;
  /** From the last delete until the store held `identitiesBefore` again (ms); undefined if it did not within the wait. */
  readonly settledMs: number | undefined;
  readonly identitiesAtEnd: number;
  /** Seconds from the start of the churn to the first identity freed (undefined: none). */
  readonly firstFreedAfterS: number | undefined;
  /** Identities allocated but not yet freed at the end of the churn window. */
  readonly backlogAtEnd: number;
  /** Identities marked unused in the store at the end of the window. */
  readonly markedAtEnd: number;
  /** Age of the oldest unused mark then (s): far above the grace means GC is not collecting. */
  readonly oldestMarkAgeS: number;
  /** The first failure, if any write failed. */
  readonly firstError?: string;
  /** Counters sampled every second from the start of the churn. */
  readonly series: readonly ChurnSample[];
}

/** One sample of the churn's time series (counts since the churn began). */
export interface ChurnSample {
  readonly t: number;
  readonly created: number;
  readonly deleted: number;
  readonly allocated: number;
  readonly freed: number;
  readonly queueDepth: number;
}

/** Options of {@link churnSection}. */
export interface ChurnOptions {
  readonly store: string;
  readonly ratePerSecond: number;
  readonly seconds: number;
  readonly graceMs: number;
  readonly gcIntervalMs: number;
  /** Prefix of pod names (unique per run). */
  readonly prefix: string;
  /** Second octet of the churn pods' addresses (unique per run). */
  readonly ipBase: number;
  /** How long to wait for the store to return to its size before the churn. */
  readonly settleTimeoutMs: number;
}

const NS = 'bench-churn';
const MAX_IN_FLIGHT = 128;
const DELETE_AFTER_MS = 1000;

/** Runs the churn against `op`, which must be leading and ready. */
export async function churnSection(
  client: KubeClient,
  op: BenchOperator,
  countIdentities: () => Promise<number>,
  o: ChurnOptions,
): Promise<ChurnResult> {
  await ensureNamespace(client, NS, { purpose: 'churn' });
  const allocated = (): Promise<number> => metricTotal(op.metrics.identitiesAllocated);
  const freed = (): Promise<number> => metricTotal(op.metrics.identitiesFreed);
  const identitiesBefore = await countIdentities();
  const a0 = await allocated();
  const f0 = await freed();

  let launched = 0;
  let created = 0;
  let deleted = 0;
  let failed = 0;
  let firstError: string | undefined;
  const series: ChurnSample[] = [];
  let firstFreedAfterS: number | undefined;
  let inFlight = 0;
  let maxQueueDepth = 0;
  const createMs: number[] = [];
  const lives: Promise<void>[] = [];
  const durationMs = o.seconds * 1000;
  const t0 = performance.now();
  let createdInWindow = 0;
  let deletedInWindow = 0;
  let mid: { a: number; f: number; at: number } | undefined;

  // `inFlight` counts outstanding requests only (not pods waiting for their delete).
  const launch = (i: number): void => {
    inFlight++;
    const name = `${o.prefix}-${i}`;
    const tc = performance.now();
    const life = createPod(client, {
      namespace: NS,
      name,
      labels: { app: 'churn', 'churn-id': `${o.prefix}-${i}` },
      ips: [podIp(i, o.ipBase)],
    })
      .finally(() => inFlight--)
      .then(async () => {
        created++;
        const now = performance.now();
        createMs.push(now - tc);
        if (now - t0 <= durationMs) createdInWindow++;
        await sleep(DELETE_AFTER_MS);
        inFlight++;
        await deletePod(client, NS, name).finally(() => inFlight--);
        deleted++;
        if (performance.now() - t0 <= durationMs) deletedInWindow++;
      })
      .catch((err: unknown) => {
        failed++;
        firstError ??= err instanceof Error ? err.message : 'unknown failure';
      });
    lives.push(life);
  };

  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    void (async () => {
      const depth = await metricTotal(op.metrics.queueDepth);
      maxQueueDepth = Math.max(maxQueueDepth, depth);
      const t = (performance.now() - t0) / 1000;
      const sample: ChurnSample = {
        t: Number(t.toFixed(2)),
        created,
        deleted,
        allocated: (await allocated()) - a0,
        freed: (await freed()) - f0,
        queueDepth: depth,
      };
      if (sample.freed > 0) firstFreedAfterS ??= sample.t;
      series.push(sample);
      if (series.length % 2 === 0)
        progress(
          `churn (${o.store}) ${t.toFixed(0)} s: created ${fmtInt(created)}, deleted ${fmtInt(deleted)}, allocated ${fmtInt(sample.allocated)}, freed ${fmtInt(sample.freed)}, queue ${depth}, requests in flight ${inFlight}`,
        );
    })().finally(() => (sampling = false));
  }, 1000);
  try {
    for (;;) {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationMs) break;
      if (!mid && elapsed >= durationMs / 2)
        mid = { a: await allocated(), f: await freed(), at: performance.now() };
      const target = Math.floor((elapsed / 1000) * o.ratePerSecond);
      while (launched < target && inFlight < MAX_IN_FLIGHT) launch(launched++);
      maxQueueDepth = Math.max(maxQueueDepth, await metricTotal(op.metrics.queueDepth));
      await sleep(5);
    }
    const tEnd = performance.now();
    const a1 = await allocated();
    const f1 = await freed();
    const now = Date.now();
    const marks = (await op.store.list())
      .map((x) => x.unusedSince)
      .filter((x): x is number => x !== undefined);
    const markedAtEnd = marks.length;
    const oldestMarkAgeS = marks.length > 0 ? (now - Math.min(...marks)) / 1000 : 0;
    progress(`churn (${o.store}): generator stopped; waiting for the last deletes`);
    await Promise.all(lives);
    const tLastDelete = performance.now();
    const seconds = (tEnd - t0) / 1000;
    const midPoint = mid ?? { a: a0, f: f0, at: t0 };
    const steadySeconds = (tEnd - midPoint.at) / 1000;

    // Poll the store from the last delete: when is it back to its size before the churn,
    // and what does it hold at 2× grace?
    let settledMs: number | undefined;
    let identitiesAfter2xGrace: number | undefined;
    let identitiesAtEnd = identitiesBefore;
    for (;;) {
      const at = performance.now() - tLastDelete;
      identitiesAtEnd = await countIdentities();
      if (settledMs === undefined && identitiesAtEnd <= identitiesBefore) settledMs = at;
      if (identitiesAfter2xGrace === undefined && at >= 2 * o.graceMs) {
        identitiesAfter2xGrace = identitiesAtEnd;
        clearInterval(sampler);
      }
      if (
        identitiesAfter2xGrace !== undefined &&
        (settledMs !== undefined || at > o.settleTimeoutMs)
      )
        break;
      await sleep(Math.min(250, Math.max(0, 2 * o.graceMs - at)));
    }
    const result: ChurnResult = {
      store: o.store,
      targetPerSecond: o.ratePerSecond,
      seconds,
      graceMs: o.graceMs,
      gcIntervalMs: o.gcIntervalMs,
      created,
      createdPerSecond: createdInWindow / seconds,
      deletedPerSecond: deletedInWindow / seconds,
      failed,
      allocatedPerSecond: (a1 - a0) / seconds,
      freedPerSecond: (f1 - f0) / seconds,
      allocatedPerSecondSteady: (a1 - midPoint.a) / steadySeconds,
      freedPerSecondSteady: (f1 - midPoint.f) / steadySeconds,
      createMs: [...createMs].sort((a, b) => a - b)[createMs.length >> 1] ?? 0,
      maxQueueDepth,
      identitiesBefore,
      identitiesAfter2xGrace,
      settledMs,
      identitiesAtEnd,
      firstFreedAfterS,
      markedAtEnd,
      oldestMarkAgeS,
      backlogAtEnd: a1 - a0 - (f1 - f0),
      ...(firstError !== undefined ? { firstError } : {}),
      series,
    };
    progress(
      `churn (${o.store}): ${fmtInt(result.createdPerSecond)} pods/s, allocated ${fmtInt(result.allocatedPerSecond)}/s, freed ${fmtInt(result.freedPerSecond)}/s; identities ${identitiesBefore} → ${identitiesAfter2xGrace} at 2× grace`,
    );
    return result;
  } finally {
    clearInterval(sampler);
  }
}

/** The section as report lines (one block per store). */
export function formatChurn(rs: readonly ChurnResult[]): string[] {
  const first = rs[0];
  if (!first) return [];
  const out = [
    `4. Identity GC under churn (target ${first.targetPerSecond} pods/s for ${first.seconds.toFixed(0)} s, each pod deleted ~1 s after creation; grace ${first.graceMs / 1000} s, GC every ${first.gcIntervalMs} ms)`,
  ];
  for (const r of rs) {
    const settled =
      r.settledMs === undefined
        ? `NOT back (${r.identitiesAtEnd} at the end of the wait)`
        : `back to ${r.identitiesBefore} ${fmtMs(r.settledMs)} after the last delete`;
    out.push(
      `  ${r.store} store:`,
      `    pods created / deleted             ${fmtInt(r.createdPerSecond)}/s / ${fmtInt(r.deletedPerSecond)}/s (target ${r.targetPerSecond}/s; create + status p50 ${fmtMs(r.createMs)}; ${r.failed} failed)`,
      `    identities allocated / freed       ${fmtInt(r.allocatedPerSecond)}/s / ${fmtInt(r.freedPerSecond)}/s over the window; ${fmtInt(r.allocatedPerSecondSteady)}/s / ${fmtInt(r.freedPerSecondSteady)}/s over its second half`,
      `    GC                                 first identity freed ${r.firstFreedAfterS === undefined ? 'never during the window' : `${r.firstFreedAfterS.toFixed(0)} s after the start`}; allocated − freed at the end of the window ${fmtInt(r.backlogAtEnd)} (≈ ${fmtInt(r.targetPerSecond * (1 + r.graceMs / 1000 + r.gcIntervalMs / 1000))} if GC keeps up); then ${fmtInt(r.markedAtEnd)} marked unused, the oldest mark ${r.oldestMarkAgeS.toFixed(1)} s old`,
      `    operator queue depth (max)         ${r.maxQueueDepth}`,
      ...(r.firstError ? [`    first failure: ${r.firstError.slice(0, 200)}`] : []),
      `    identities in the store            ${r.identitiesBefore} before the churn → ${r.identitiesAfter2xGrace} at 2× grace after the last delete (${settled})`,
    );
  }
  return out;
}
