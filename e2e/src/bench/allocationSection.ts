/**
 * Section 1: identity allocation throughput, CRD store vs Redis store, each against what
 * its backend can do at all in the same run.
 *
 * - CRD store: N distinct label sets through `CrdIdentityStore.allocate` (per identity a GET
 *   that misses, a create, and every 64 numbers a counter read + compare-and-swap), against
 *   N plain ConfigMap creates of similar size on the same apiserver, measured before and
 *   after the store (their mean is the baseline, their spread shows the drift).
 * - Redis store: N allocations through `RedisIdentityStore.allocate` (one Lua script each,
 *   over ioredis), against N raw `PING` and N raw `INCR` round trips on the same server.
 *   These runs take milliseconds, so the three are repeated five times, interleaved (fresh
 *   label sets each time), and the median of each is reported.
 *
 * Everything runs with the same number of calls in flight. The objects and keys written
 * here are removed afterwards, so later sections start from an empty store.
 */
import { identityKey, type SecurityLabels } from '@palisade/core';
import {
  CrdIdentityStore,
  RedisIdentityStore,
  Resources,
  type KubeClient,
} from '@palisade/operator';
import type { RedisServer } from '@palisade/operator/testing';
import { ensureNamespace } from '../operator/testCluster.js';
import { fmtInt, fmtRatio, progress, runPool } from './benchKit.js';
import { RespClient } from './respClient.js';

/** Throughput of one measured run. */
export interface Throughput {
  readonly n: number;
  readonly ms: number;
  readonly perSecond: number;
}

/** The section's figures. */
export interface AllocationResult {
  readonly n: number;
  readonly concurrency: number;
  readonly configMapCreatesBefore: Throughput;
  readonly configMapCreatesAfter: Throughput;
  readonly crdStore: Throughput;
  /** CRD ids/s ÷ mean ConfigMap creates/s. */
  readonly crdRatio: number;
  readonly redisPing: Throughput;
  readonly redisIncr: Throughput;
  readonly redisStore: Throughput;
  /** Redis ids/s ÷ INCR/s. */
  readonly redisRatioToIncr: number;
  /** Redis ids/s ÷ PING/s. */
  readonly redisRatioToPing: number;
}

const NS = 'bench-alloc';
const WARMUP = 200;
/**
 * Redis runs are short (N calls take tens of ms), so each is repeated with fresh keys and
 * the median rate is reported.
 */
const REDIS_REPEATS = 5;

function labelsFor(run: string, i: number): SecurityLabels {
  return {
    namespace: `alloc-${i % 50}`,
    serviceAccount: 'default',
    podLabels: { app: `${run}-${i}`, tier: ['frontend', 'backend', 'db'][i % 3] ?? 'db' },
    namespaceLabels: { team: `team-${i % 10}`, env: i % 2 === 0 ? 'prod' : 'staging' },
    namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

/** The run with the median rate. */
function median(runs: readonly Throughput[]): Throughput {
  const mid = [...runs].sort((a, b) => a.perSecond - b.perSecond)[runs.length >> 1];
  if (!mid) throw new Error('no runs');
  return mid;
}

async function measure(
  what: string,
  n: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<Throughput> {
  const ms = await runPool(what, n, concurrency, async (i) => {
    await task(i);
  });
  const t = { n, ms, perSecond: (n / ms) * 1000 };
  progress(`${what}: ${fmtInt(t.perSecond)}/s`);
  return t;
}

/** Runs the section against `client`'s apiserver and `redis`. */
export async function allocationSection(
  client: KubeClient,
  redis: RedisServer,
  n: number,
  concurrency: number,
): Promise<AllocationResult> {
  await ensureNamespace(client, NS);
  const configMaps = (run: string) => (i: number) => {
    const labels = labelsFor(run, i);
    return client.create(Resources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${run}-${i}`, namespace: NS, labels: { 'bench/run': run } },
      data: { key: identityKey(labels), labels: JSON.stringify(labels) },
    });
  };
  await measure('warm-up: ConfigMap creates', WARMUP, concurrency, configMaps('warm'));
  const configMapCreatesBefore = await measure(
    'ConfigMap creates (baseline, before)',
    n,
    concurrency,
    configMaps('cm-a'),
  );
  const crd = new CrdIdentityStore({ client, namespace: NS, counterName: 'bench-counter' });
  const allocCrd = (run: string) => (i: number) => {
    const labels = labelsFor(run, i);
    return crd.allocate(identityKey(labels), labels);
  };
  await measure('warm-up: CRD store', WARMUP, concurrency, allocCrd('warm'));
  const crdStore = await measure('CRD store allocations', n, concurrency, allocCrd('crd'));
  const configMapCreatesAfter = await measure(
    'ConfigMap creates (baseline, after)',
    n,
    concurrency,
    configMaps('cm-b'),
  );
  await crd.close();
  progress('removing the section’s SecurityIdentities and ConfigMaps');
  await client.request('DELETE', `/apis/palisade.dev/v1alpha1/securityidentities`, {
    timeoutMs: 120_000,
  });
  await client.request('DELETE', `/api/v1/namespaces/${NS}/configmaps`, { timeoutMs: 120_000 });

  const resp = await RespClient.connect(redis.port);
  const store = new RedisIdentityStore({ url: redis.url, prefix: 'bench:identity:' });
  try {
    await measure('warm-up: redis PING', 5 * WARMUP, concurrency, () => resp.command('PING'));
    await measure('warm-up: redis INCR', 5 * WARMUP, concurrency, () =>
      resp.command('INCR', 'bench:incr'),
    );
    const allocRedis = (run: string) => (i: number) => {
      const labels = labelsFor(run, i);
      return store.allocate(identityKey(labels), labels);
    };
    await measure('warm-up: Redis store', 5 * WARMUP, concurrency, allocRedis('warm'));
    // Interleaved, so the three share the machine's noise; the median of each is kept.
    const runs: { ping: Throughput; incr: Throughput; store: Throughput }[] = [];
    for (let r = 0; r < REDIS_REPEATS; r++)
      runs.push({
        ping: await measure('redis PING (baseline)', n, concurrency, () => resp.command('PING')),
        incr: await measure('redis INCR (baseline)', n, concurrency, () =>
          resp.command('INCR', 'bench:incr'),
        ),
        store: await measure('Redis store allocations', n, concurrency, allocRedis(`r${r}`)),
      });
    const redisPing = median(runs.map((x) => x.ping));
    const redisIncr = median(runs.map((x) => x.incr));
    const redisStore = median(runs.map((x) => x.store));
    const cmMean = (configMapCreatesBefore.perSecond + configMapCreatesAfter.perSecond) / 2;
    return {
      n,
      concurrency,
      configMapCreatesBefore,
      configMapCreatesAfter,
      crdStore,
      crdRatio: crdStore.perSecond / cmMean,
      redisPing,
      redisIncr,
      redisStore,
      redisRatioToIncr: redisStore.perSecond / redisIncr.perSecond,
      redisRatioToPing: redisStore.perSecond / redisPing.perSecond,
    };
  } finally {
    resp.close();
    await store.close();
  }
}

/** The section as report lines. */
export function formatAllocation(r: AllocationResult): string[] {
  const cmMean = (r.configMapCreatesBefore.perSecond + r.configMapCreatesAfter.perSecond) / 2;
  const row = (what: string, perSecond: number, extra = ''): string =>
    `  ${what.padEnd(52)} ${fmtInt(perSecond).padStart(8)} /s${extra}`;
  return [
    `1. Identity allocation throughput (${fmtInt(r.n)} distinct label sets, ${r.concurrency} in flight)`,
    row(
      'baseline: plain ConfigMap creates (before / after)',
      cmMean,
      `   (${fmtInt(r.configMapCreatesBefore.perSecond)} / ${fmtInt(r.configMapCreatesAfter.perSecond)})`,
    ),
    row('CRD store: new identities', r.crdStore.perSecond, `   ${fmtRatio(r.crdRatio)} baseline`),
    row('baseline: raw redis PING round trips', r.redisPing.perSecond),
    row('baseline: raw redis INCR round trips', r.redisIncr.perSecond),
    row(
      'Redis store: new identities',
      r.redisStore.perSecond,
      `   ${fmtRatio(r.redisRatioToIncr)} INCR, ${fmtRatio(r.redisRatioToPing)} PING`,
    ),
    `  Redis store ÷ CRD store: ${fmtRatio(r.redisStore.perSecond / r.crdStore.perSecond)}`,
  ];
}
