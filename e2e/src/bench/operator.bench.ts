/**
 * Operator benchmark on a real control plane (etcd + kube-apiserver) and a real Redis, every
 * figure next to a baseline measured in the same run:
 *
 * 1. identity allocation throughput, CRD store vs Redis store (vs plain ConfigMap creates,
 *    raw Redis PING / INCR);
 * 2. the operator process's RSS and CPU with P pods / Q policies in the apiserver (vs a bare
 *    `node` and the operator on an empty cluster), its time to the first complete compile,
 *    and a clean exit on SIGTERM;
 * 3. policy write → compiled delta, p50/p90/p99/max (vs a ConfigMap round trip; kubectl
 *    separately, vs kubectl applying a ConfigMap);
 * 4. identity GC under pod churn at 100 pods/s, CRD and Redis stores.
 *
 *   node e2e/dist/bench/operator.bench.js [--pods 10000] [--policies 1000] [--quick] [-o json]
 *     [--save FILE]
 *
 * `--quick` is 1,000 pods / 100 policies and shorter runs everywhere. Progress goes to
 * stderr; the report (or with `-o json` a JSON object) to stdout. The control plane, Redis
 * and every child process are removed at the end, also on failure or Ctrl-C.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RedisIdentityStore, Resources, type KubeClient } from '@palisade/operator';
import { startRedis, type RedisServer } from '@palisade/operator/testing';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { adminClient, ensureNamespace, OPERATOR_NS } from '../operator/testCluster.js';
import { allocationSection, formatAllocation, type AllocationResult } from './allocationSection.js';
import { fmtInt, fmtRatio, progress } from './benchKit.js';
import { churnSection, formatChurn, type ChurnResult } from './churnSection.js';
import { clusterShape, populate, type ClusterShape } from './clusterLoad.js';
import { startBenchOperator, type BenchOperator, type LogTally } from './inProcessOperator.js';
import { formatLatency, latencySection, type LatencyResult } from './latencySection.js';
import {
  killChildren,
  measureBareNode,
  measureOperatorProcess,
  type BareNodeRun,
  type OperatorProcessRun,
} from './operatorProcess.js';

/** What the command line asked for. */
interface BenchConfig {
  readonly pods: number;
  readonly policies: number;
  readonly quick: boolean;
  readonly json: boolean;
  /** Also write the JSON result to this file. */
  readonly save: string | undefined;
  readonly allocations: number;
  readonly concurrency: number;
  readonly idleMs: number;
  readonly latencyPolicies: number;
  readonly kubectlPolicies: number;
  readonly churnSeconds: number;
  readonly churnRate: number;
}

function parseConfig(argv: readonly string[]): BenchConfig {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      pods: { type: 'string' },
      policies: { type: 'string' },
      quick: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      save: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'node e2e/dist/bench/operator.bench.js [--pods N] [--policies N] [--quick] [-o json] [--save FILE]\n',
    );
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const num = (flag: string, v: string | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`--${flag}: "${v}" is not a positive integer`);
    return n;
  };
  if (values.output !== undefined && values.output !== 'json' && values.output !== 'text')
    throw new Error(`-o: "${values.output}" is not json or text`);
  return {
    pods: num('pods', values.pods, quick ? 1000 : 10_000),
    policies: num('policies', values.policies, quick ? 100 : 1000),
    quick,
    json: values.output === 'json',
    save: values.save,
    allocations: quick ? 1000 : 2000,
    concurrency: 32,
    idleMs: quick ? 5000 : 10_000,
    latencyPolicies: quick ? 40 : 200,
    kubectlPolicies: quick ? 6 : 20,
    churnSeconds: quick ? 8 : 20,
    churnRate: 100,
  };
}

/** The footprint figures (section 2). */
interface FootprintResult {
  readonly bareNode: BareNodeRun;
  readonly emptyCluster: OperatorProcessRun;
  readonly populated: OperatorProcessRun;
  readonly populateMs: { namespacesMs: number; podsMs: number; policiesMs: number };
}

function formatProcessRow(what: string, r: OperatorProcessRun): string {
  return `  ${what.padEnd(28)} ready ${(r.readyMs / 1000).toFixed(1).padStart(5)} s  CPU to ready ${r.atReady.cpuSeconds.toFixed(1).padStart(5)} s  RSS ${r.afterIdle.rssMiB.toFixed(0).padStart(4)} MiB (peak ${r.afterIdle.peakRssMiB.toFixed(0)})  heap ${r.gaugesAfterIdle.heapUsedMiB.toFixed(0)} MiB  idle CPU ${r.idleCpuPercent.toFixed(1)}%`;
}

function formatFootprint(f: FootprintResult, shape: ClusterShape): string[] {
  const p = f.populated;
  const e = f.emptyCluster;
  const ic = p.initialCompile;
  const exit = (r: OperatorProcessRun): string =>
    r.exitSignal ? `signal ${r.exitSignal}` : `code ${r.exitCode ?? '?'}`;
  const lines = [
    `2. Operator process with ${fmtInt(shape.pods)} pods / ${fmtInt(shape.policies)} policies / ${shape.namespaces} namespaces in the apiserver (separate process; sampled at ready and after ${p.idleMs / 1000} s idle)`,
    `  populating: namespaces ${(f.populateMs.namespacesMs / 1000).toFixed(1)} s, pods (create + status) ${(f.populateMs.podsMs / 1000).toFixed(1)} s (${fmtInt((shape.pods / f.populateMs.podsMs) * 1000)}/s), policies ${(f.populateMs.policiesMs / 1000).toFixed(1)} s`,
    `  baseline: bare node             RSS ${f.bareNode.rssMiB.toFixed(0).padStart(4)} MiB  CPU ${f.bareNode.cpuSeconds.toFixed(2)} s`,
    formatProcessRow('baseline: empty cluster', e),
    formatProcessRow('populated cluster', p),
    `  populated vs empty: RSS ${fmtRatio(p.afterIdle.rssMiB / e.afterIdle.rssMiB)} (+${(p.afterIdle.rssMiB - e.afterIdle.rssMiB).toFixed(0)} MiB), RSS vs bare node ${fmtRatio(p.afterIdle.rssMiB / f.bareNode.rssMiB)}; ready +${((p.readyMs - e.readyMs) / 1000).toFixed(1)} s`,
    `  initial compile: ${JSON.stringify(ic)}; compiled entries at ready ${fmtInt(p.gaugesAtReady.policyEntries)} → after idle ${fmtInt(p.gaugesAfterIdle.policyEntries)}, ipcache ${fmtInt(p.gaugesAfterIdle.ipcacheEntries)}, identities in use ${fmtInt(p.gaugesAfterIdle.identitiesInUse)}`,
    `  SIGTERM → exit: ${exit(p)} after ${p.stopMs.toFixed(0)} ms (empty cluster: ${exit(e)} after ${e.stopMs.toFixed(0)} ms)`,
    `  operator log: ${p.warnings} warnings, ${p.errors} errors (empty cluster: ${e.warnings} / ${e.errors})`,
  ];
  for (const l of [...e.notable, ...p.notable].slice(0, 6)) lines.push(`    ${l.slice(0, 240)}`);
  return lines;
}

function formatTallies(tallies: readonly { what: string; tally: LogTally }[]): string[] {
  const out = ['In-process operators, warnings and errors logged:'];
  for (const { what, tally } of tallies) {
    out.push(`  ${what}: ${tally.warnings} warnings, ${tally.errors} errors`);
    for (const [msg, n] of [...tally.byMessage].slice(0, 5))
      out.push(`    ${n}× ${msg.slice(0, 200)}`);
  }
  return out;
}

/** Starts Redis with its data directory on tmpfs, like etcd's, so neither store pays for disk fsyncs. */
async function startRedisOnTmpfs(): Promise<RedisServer> {
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = '/dev/shm';
  try {
    return await startRedis();
  } finally {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
  }
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  const started = new Date();
  const shape = clusterShape(cfg.pods, cfg.policies);
  let cp: ControlPlane | undefined;
  let redis: RedisServer | undefined;
  let client: KubeClient | undefined;
  let op: BenchOperator | undefined;
  let redisStore: RedisIdentityStore | undefined;
  const onSignal = (): void => {
    progress('interrupted: cleaning up');
    killChildren();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tallies: { what: string; tally: LogTally }[] = [];
  try {
    progress(
      `operator benchmark: ${fmtInt(shape.pods)} pods, ${fmtInt(shape.policies)} policies${cfg.quick ? ' (quick)' : ''}`,
    );
    cp = await startControlPlane({ log: progress });
    await cp.applyCrds();
    client = adminClient(cp);
    await ensureNamespace(client, OPERATOR_NS);
    redis = await startRedisOnTmpfs();
    progress(`redis on ${redis.url} (${redis.dir})`);

    progress('2. baselines: bare node, operator on an empty cluster');
    const bareNode = await measureBareNode();
    const emptyCluster = await measureOperatorProcess({
      kubeconfigPath: cp.kubeconfigPath,
      namespace: OPERATOR_NS,
      idleMs: cfg.idleMs,
      readyTimeoutMs: 60_000,
      label: 'operator, empty cluster',
    });

    progress('1. identity allocation throughput');
    const allocation: AllocationResult = await allocationSection(
      client,
      redis,
      cfg.allocations,
      cfg.concurrency,
    );

    progress(
      `2. populating: ${shape.namespaces} namespaces, ${shape.pods} pods, ${shape.policies} policies`,
    );
    const populateMs = await populate(client, shape, cfg.concurrency);
    const populated = await measureOperatorProcess({
      kubeconfigPath: cp.kubeconfigPath,
      namespace: OPERATOR_NS,
      idleMs: cfg.idleMs,
      readyTimeoutMs: 600_000,
      label: 'operator, populated cluster',
    });
    const footprint: FootprintResult = { bareNode, emptyCluster, populated, populateMs };

    progress('3. policy write → compiled delta (in-process operator, CRD store)');
    op = await startBenchOperator(cp, {
      id: 'bench-latency',
      graceMs: 60_000,
      gcIntervalMs: 250,
      readyTimeoutMs: 600_000,
    });
    progress(`in-process operator ready after ${(op.readyMs / 1000).toFixed(1)} s`);
    const latency: LatencyResult = await latencySection(
      cp,
      client,
      shape,
      op,
      cfg.latencyPolicies,
      cfg.kubectlPolicies,
    );
    tallies.push({ what: 'latency run (CRD store)', tally: op.tally });
    await op.stop();
    op = undefined;

    const churn: ChurnResult[] = [];
    const common = {
      ratePerSecond: cfg.churnRate,
      seconds: cfg.churnSeconds,
      graceMs: 2000,
      gcIntervalMs: 250,
      settleTimeoutMs: 30_000,
    };
    progress('4. identity GC under churn: CRD store');
    op = await startBenchOperator(cp, {
      id: 'bench-churn-crd',
      graceMs: common.graceMs,
      gcIntervalMs: common.gcIntervalMs,
      readyTimeoutMs: 600_000,
    });
    const c = client;
    churn.push(
      await churnSection(
        client,
        op,
        async () => (await c.listAll(Resources.securityIdentities)).items.length,
        { ...common, store: 'CRD', prefix: 'churn-crd', ipBase: 128 },
      ),
    );
    tallies.push({ what: 'churn run (CRD store)', tally: op.tally });
    await op.stop();
    op = undefined;

    progress('4. identity GC under churn: Redis store');
    const rs = new RedisIdentityStore({ url: redis.url });
    redisStore = rs;
    op = await startBenchOperator(cp, {
      id: 'bench-churn-redis',
      store: rs,
      graceMs: common.graceMs,
      gcIntervalMs: common.gcIntervalMs,
      readyTimeoutMs: 600_000,
    });
    churn.push(
      await churnSection(client, op, async () => (await rs.list()).length, {
        ...common,
        store: 'Redis',
        prefix: 'churn-redis',
        ipBase: 160,
      }),
    );
    tallies.push({ what: 'churn run (Redis store)', tally: op.tally });
    await op.stop();
    op = undefined;

    const meta = {
      date: started.toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
      quick: cfg.quick,
      durationSeconds: Math.round(performance.now() / 1000),
      shape,
    };
    const json = `${JSON.stringify(
      {
        meta,
        allocation,
        footprint,
        latency,
        churn,
        operatorLogs: tallies.map((t) => ({
          what: t.what,
          warnings: t.tally.warnings,
          errors: t.tally.errors,
          byMessage: Object.fromEntries(t.tally.byMessage),
        })),
      },
      null,
      2,
    )}\n`;
    if (cfg.save !== undefined) writeFileSync(cfg.save, json);
    if (cfg.json) process.stdout.write(json);
    else {
      const lines = [
        `Palisade operator benchmark — ${meta.date}, ${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}, load ${meta.loadAverageAtEnd.join(' ')} at the end, ${meta.durationSeconds} s`,
        '',
        ...formatAllocation(allocation),
        '',
        ...formatFootprint(footprint, shape),
        '',
        ...formatLatency(latency, shape.namespaces),
        '',
        ...formatChurn(churn),
        '',
        ...formatTallies(tallies),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  } finally {
    progress('cleaning up');
    await op?.stop().catch(() => undefined);
    await redisStore?.close().catch(() => undefined);
    client?.close();
    killChildren();
    await redis?.stop().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
  }
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    process.stderr.write(
      `operator benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
