/**
 * Lab benchmark: end-to-end figures on a real lab (etcd + kube-apiserver, the operator and a
 * shim per node as processes, nodes as network namespaces, eBPF enforcement, real TCP
 * probes), each next to a baseline measured in the same run:
 *
 * 1. `kubectl apply` of a NetworkPolicy → the first probe that reflects it, deny and allow,
 *    server on another node and on the client's node (vs `kubectl apply` of a ConfigMap → a
 *    watch sees it) — labPolicySection.ts;
 * 2. a new pod's creation → its first allowed connection (vs creation → Ready in the
 *    apiserver) — labPodSection.ts;
 * 3. `Lab.up` → ready, warm (median of 3) and, with `--cold`, with the kube binaries built
 *    from source first — labUpSection.ts.
 *
 *   node e2e/dist/bench/lab.bench.js [--iterations 40] [--pods 32] [--up-runs 3] [--cold]
 *     [--quick] [--sections up,policy,pods] [--probe-interval 15] [--probe-timeout 50]
 *     [--agents 4] [-o json] [--save FILE]
 *
 * The probe stream launches a probe every `--probe-interval` ms on one of `--agents` agents,
 * so an observation is late by up to one interval (half of it on average).
 *
 * Root only (network namespaces, eBPF). Build first: `npx tsc -b packages/cli packages/operator
 * && npx tsc -p e2e` (and the shim's native parts, `bash packages/shim/build-native.sh`).
 * Progress goes to stderr, the report (or with `-o json` a JSON object) to stdout. Every lab
 * it starts is taken down at the end, also on failure or Ctrl-C.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Resources } from '@palisade/operator';
import { defaultAgentPath, ProbeAgent } from '@palisade/shim/testing';
import { Lab } from '../lab/lab.js';
import { fmtMs, fmtRatio, progress, type LatencyStats } from './benchKit.js';
import { podSection, type PodResult } from './labPodSection.js';
import { policySection, type PolicyResult } from './labPolicySection.js';
import { ProbeStream } from './labProbeStream.js';
import { medianRun, upOnce, upSection, type UpResult, type UpRun } from './labUpSection.js';
import { BENCH_NS, podObject, runningPod } from './labWorkload.js';

const SECTIONS = ['up', 'policy', 'pods'] as const;
type Section = (typeof SECTIONS)[number];

interface BenchConfig {
  readonly iterations: number;
  readonly pods: number;
  readonly upRuns: number;
  readonly cold: boolean;
  readonly quick: boolean;
  readonly nodes: number;
  readonly sections: ReadonlySet<Section>;
  readonly json: boolean;
  readonly save: string | undefined;
  readonly upOnce: boolean;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly agents: number;
}

const USAGE =
  'node e2e/dist/bench/lab.bench.js [--iterations N] [--pods N] [--up-runs N] [--cold] [--quick] [--sections up,policy,pods] [--probe-interval MS] [--probe-timeout MS] [--agents N] [-o json] [--save FILE]\n';

function parseConfig(argv: readonly string[]): BenchConfig {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      iterations: { type: 'string' },
      pods: { type: 'string' },
      'up-runs': { type: 'string' },
      cold: { type: 'boolean' },
      quick: { type: 'boolean' },
      nodes: { type: 'string' },
      sections: { type: 'string' },
      output: { type: 'string', short: 'o' },
      save: { type: 'string' },
      'up-once': { type: 'boolean' },
      'probe-interval': { type: 'string' },
      'probe-timeout': { type: 'string' },
      agents: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (flag: string, v: string | undefined, dflt: number, min = 1): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${flag}: "${v}" is not an integer ≥ ${min}`);
    return n;
  };
  if (values.output !== undefined && values.output !== 'json' && values.output !== 'text')
    throw new Error(`-o: "${values.output}" is not json or text`);
  const sections = new Set<Section>();
  for (const s of (values.sections ?? SECTIONS.join(',')).split(',')) {
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new Error(`--sections: "${s}" is not one of ${SECTIONS.join(', ')}`);
    sections.add(s as Section);
  }
  const quick = values.quick ?? false;
  return {
    iterations: num('iterations', values.iterations, quick ? 10 : 40),
    pods: num('pods', values.pods, quick ? 8 : 32),
    upRuns: num('up-runs', values['up-runs'], quick ? 1 : 3, 0),
    cold: values.cold ?? false,
    quick,
    nodes: num('nodes', values.nodes, 2, 2),
    sections,
    json: values.output === 'json',
    save: values.save,
    upOnce: values['up-once'] ?? false,
    intervalMs: num('probe-interval', values['probe-interval'], 15),
    timeoutMs: num('probe-timeout', values['probe-timeout'], 50),
    agents: num('agents', values.agents, 4),
  };
}

// ---- report -------------------------------------------------------------------------------

function row(what: string, s: LatencyStats): string {
  if (s.n === 0) return `  ${what.padEnd(58)} (no samples)`;
  return `  ${what.padEnd(58)} ${fmtMs(s.p50).padStart(9)} ${fmtMs(s.p99).padStart(9)} ${fmtMs(s.max).padStart(9)} ${String(s.n).padStart(4)}`;
}

const HEADER = `  ${''.padEnd(58)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)} ${'n'.padStart(4)}`;

function formatPolicy(r: PolicyResult, cfg: BenchConfig): string[] {
  const b = r.baseline.ingressWatch;
  const c = r.baseline.configMapWatch;
  const out = [
    `1. kubectl apply of a NetworkPolicy → first probe reflecting it (${r.iterations} deny/allow pairs per placement; client on node-1; a TCP probe every ${cfg.intervalMs} ms, ${cfg.timeoutMs} ms timeout, ${cfg.agents} agents)`,
    HEADER,
    row('baseline: Ingress apply → watch sees it (same API group)', b),
    row('baseline: ConfigMap apply → watch sees it', c),
    row('baseline: ConfigMap apply → kubectl exits', r.baseline.configMapKubectlExit),
  ];
  for (const p of r.placements)
    for (const [dir, d] of [
      ['deny → probes fail', p.deny],
      ['allow → probes pass', p.allow],
    ] as const) {
      out.push(row(`${p.placement}, ${dir}`, d.reflected));
      out.push(row(`  … policy apply → watch sees it`, d.watchSeen));
      out.push(row(`  … policy apply → kubectl exits`, d.kubectlExit));
      out.push(row(`  … watch sees it → probe reflects it`, d.afterWatch));
      if (d.missed > 0 || d.flaps > 0)
        out.push(`    ${d.missed} not observed within the deadline, ${d.flaps} flaps`);
    }
  out.push(row('all policy applies → reflected', r.allReflected));
  out.push(row('all: watch sees it → probe reflects it', r.allAfterWatch));
  out.push(
    `  ratio, apply → reflected vs Ingress apply → watch: p50 ${fmtRatio(r.allReflected.p50 / b.p50)}, p99 ${fmtRatio(r.allReflected.p99 / b.p99)}; vs ConfigMap apply → watch: p50 ${fmtRatio(r.allReflected.p50 / c.p50)}, p99 ${fmtRatio(r.allReflected.p99 / c.p99)}`,
    `  probes: ${r.probes.launched} launched, ${r.probes.skipped} ticks skipped (every agent busy), ${r.probes.agentErrors} agent errors`,
  );
  return out;
}

function formatPods(r: PodResult): string[] {
  const all = r.groups[0];
  const out = [
    `2. Pod creation (API) → first allowed connection from the client on node-1 (${r.pods} pods, one at a time; an allow policy selects them, so each starts isolated)`,
    HEADER,
  ];
  if (all) {
    out.push(
      row('baseline: creation → Ready in the apiserver', all.ready),
      row('creation → first allowed connection', all.allowed),
      row('  … creation → the kubelet runs it (netns, CNI ADD, port)', all.running),
      row('  … the kubelet runs it → first allowed connection', all.afterRunning),
      row('  … Ready → first allowed connection', all.afterReady),
      `  ratio to the baseline (allowed vs Ready): p50 ${fmtRatio(all.allowed.p50 / all.ready.p50)}, p99 ${fmtRatio(all.allowed.p99 / all.ready.p99)}`,
    );
  }
  out.push(
    row(`baseline: palisade-cni VERSION (process start) on ${r.cni.node}`, r.cni.version),
    row('palisade-cni ADD (veth, address, shim registers + attaches)', r.cni.add),
    row('palisade-cni DEL', r.cni.del),
  );
  const how = Object.entries(r.failedHow)
    .map(([e, n]) => `${e} ×${n}`)
    .join(', ');
  out.push(
    `  probes that failed once the kubelet ran the pod, before the first pass: p50 ${r.failedFirst.p50}, max ${r.failedFirst.max} per pod${how ? ` (${how})` : ''}`,
    `  isolation held (a probe from a pod the policy does not admit failed): ${r.isolated}/${r.pods} pods`,
  );
  if (r.missed > 0 || r.flaps > 0)
    out.push(`  ${r.missed} pods never reachable within the deadline, ${r.flaps} flaps`);
  out.push(
    `  ${'by group'.padEnd(28)} ${'Ready p50'.padStart(10)} ${'p99'.padStart(9)} ${'allowed p50'.padStart(12)} ${'p99'.padStart(9)} ${'n'.padStart(4)}`,
  );
  for (const g of r.groups.slice(1))
    out.push(
      `  ${g.what.padEnd(28)} ${fmtMs(g.ready.p50).padStart(10)} ${fmtMs(g.ready.p99).padStart(9)} ${fmtMs(g.allowed.p50).padStart(12)} ${fmtMs(g.allowed.p99).padStart(9)} ${String(g.allowed.n).padStart(4)}`,
    );
  return out;
}

function fmtS(ms: number | undefined): string {
  return ms === undefined ? '?' : `${(ms / 1000).toFixed(2)} s`;
}

function upLine(what: string, r: UpRun): string {
  const part = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined ? '?' : fmtS(a - b);
  return `  ${what.padEnd(22)} ready ${fmtS(r.upMs).padStart(8)}  (namespaces ${fmtS(r.networkMs)}, etcd + apiserver ${part(r.controlPlaneMs, r.networkMs)}, CRDs + operator ${part(r.operatorMs, r.controlPlaneMs)}, shims ${part(r.shimsMs, r.operatorMs)}); down ${fmtS(r.downMs)}; process ${fmtS(r.processMs)}; left behind: ${r.leftovers}`;
}

function formatUp(r: UpResult): string[] {
  const out = [`3. Lab.up → ready, ${r.nodes} nodes (each run a fresh process, down in between)`];
  const med = medianRun(r.warm);
  if (med) {
    const ups = r.warm.map((w) => fmtS(w.upMs)).join(', ');
    out.push(upLine(`warm, median of ${r.warm.length}`, med), `    warm runs: ${ups}`);
    out.push(
      `  baseline: etcd + kube-apiserver alone (warm median run) ${fmtS(
        med.controlPlaneMs !== undefined && med.networkMs !== undefined
          ? med.controlPlaneMs - med.networkMs
          : undefined,
      )}; the rest is Palisade's (operator, shims) and the lab's own (namespaces)`,
    );
  }
  if (r.cold) {
    out.push(upLine('cold (kube built)', r.cold));
    if (med) out.push(`  cold vs warm: ${fmtRatio(r.cold.upMs / med.upMs)}`);
  } else
    out.push('  cold: not measured (pass --cold; it builds kube-apiserver from source: 5–10 min)');
  return out;
}

// ---- main ---------------------------------------------------------------------------------

async function measureOnLab(
  cfg: BenchConfig,
  out: { policy?: PolicyResult; pods?: PodResult },
): Promise<void> {
  let lab: Lab | undefined;
  let stream: ProbeStream | undefined;
  let outsider: ProbeAgent | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    progress('interrupted: taking the lab down');
    interrupted = true;
    // While Lab.up runs there is nothing to take down yet: it is checked when Lab.up returns.
    if (!lab) return;
    void (async () => {
      await stream?.close().catch(() => undefined);
      await outsider?.close().catch(() => undefined);
      await lab?.down().catch(() => undefined);
      process.exit(130);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-lab-bench-'));
    progress(`starting a ${cfg.nodes}-node lab in ${dir}`);
    lab = await Lab.up({ dir, nodes: cfg.nodes, log: (l) => progress(`  ${l}`) });
    if (interrupted) throw new Error('interrupted');
    await lab.client.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: BENCH_NS },
    });
    const [clientNode, otherNode] = ['node-1', 'node-2'];
    const fixed: [string, string][] = [
      ['client', clientNode],
      ['server-other', otherNode],
      ['server-same', clientNode],
    ];
    for (const [name, node] of fixed)
      await lab.client.create(Resources.pods, podObject(name, node, { app: name }));
    const [client, serverOther, serverSame] = await Promise.all(
      fixed.map(async ([name]) => (await runningPod(lab as Lab, name)).pod),
    );
    if (!client || !serverOther || !serverSame) throw new Error('pods missing');
    progress(
      `client ${client.ip} on ${client.node}; servers ${serverOther.ip} on ${serverOther.node}, ${serverSame.ip} on ${serverSame.node}`,
    );
    stream = await ProbeStream.start({
      netns: client.netns,
      agents: cfg.agents,
      intervalMs: cfg.intervalMs,
      timeoutMs: cfg.timeoutMs,
    });
    if (cfg.sections.has('policy')) {
      progress(`1. policy apply → reflected: ${cfg.iterations} deny/allow pairs per placement`);
      out.policy = await policySection(
        lab,
        stream,
        [
          { placement: `other node (${otherNode})`, app: 'server-other', pod: serverOther },
          { placement: `same node (${clientNode})`, app: 'server-same', pod: serverSame },
        ],
        cfg.iterations,
      );
    }
    if (cfg.sections.has('pods')) {
      progress(`2. pod creation → first allowed connection: ${cfg.pods} pods`);
      outsider = await ProbeAgent.start(serverOther.netns, defaultAgentPath());
      out.pods = await podSection(lab, stream, cfg.pods, clientNode, otherNode, outsider);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stream?.close().catch(() => undefined);
    await outsider?.close().catch(() => undefined);
    if (lab) {
      progress('taking the lab down');
      const left = await lab.down();
      if (left.namespaces.length + left.links.length + left.processes.length > 0 || left.pins)
        progress(`lab down left behind: ${JSON.stringify(left)}`);
    }
  }
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  if (cfg.upOnce) {
    await upOnce(cfg.nodes);
    return;
  }
  if (process.getuid?.() !== 0)
    throw new Error('the lab needs root (network namespaces, eBPF): run as root');
  const started = new Date();
  const results: { up?: UpResult; policy?: PolicyResult; pods?: PodResult } = {};
  progress(
    `lab benchmark: sections ${[...cfg.sections].join(', ')}${cfg.cold ? ' (with a cold lab up)' : ''}${cfg.quick ? ' (quick)' : ''}`,
  );
  if (cfg.sections.has('up')) {
    progress(`3. Lab.up → ready: ${cfg.cold ? 'cold once, then ' : ''}warm ×${cfg.upRuns}`);
    results.up = await upSection(cfg.nodes, cfg.upRuns, cfg.cold);
  }
  if (cfg.sections.has('policy') || cfg.sections.has('pods')) await measureOnLab(cfg, results);
  const meta = {
    date: started.toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
    durationSeconds: Math.round(performance.now() / 1000),
    config: {
      iterations: cfg.iterations,
      pods: cfg.pods,
      upRuns: cfg.upRuns,
      cold: cfg.cold,
      nodes: cfg.nodes,
      probeIntervalMs: cfg.intervalMs,
      probeTimeoutMs: cfg.timeoutMs,
      agents: cfg.agents,
    },
  };
  const json = `${JSON.stringify({ meta, ...results }, null, 2)}\n`;
  if (cfg.save !== undefined) writeFileSync(cfg.save, json);
  if (cfg.json) {
    process.stdout.write(json);
    return;
  }
  const lines = [
    `Palisade lab benchmark — ${meta.date}, ${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}, load ${meta.loadAverageAtEnd.join(' ')} at the end, ${meta.durationSeconds} s`,
  ];
  if (results.policy) lines.push('', ...formatPolicy(results.policy, cfg));
  if (results.pods) lines.push('', ...formatPods(results.pods));
  if (results.up) lines.push('', ...formatUp(results.up));
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    process.stderr.write(
      `lab benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
