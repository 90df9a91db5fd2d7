/**
 * The operator as a separate process (`node packages/operator/dist/main.js`), measured from
 * outside: time to its first complete compile, RSS and CPU time from `/proc`, a few gauges
 * from its `/metrics`, the warnings and errors it logs, and its exit status after SIGTERM.
 * The same measurement of a bare `node` process serves as the floor.
 *
 * Every child started here is killed (SIGKILL) when the benchmark process exits, whatever
 * way it exits.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../harness/binaries.js';
import { procSample, progress, sleep, type ProcSample } from './benchKit.js';

const children = new Set<ChildProcess>();

/** `setpriv`, if installed: the child gets a parent-death signal, then execs node (same pid). */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** Spawns node with `args`; it dies with this process even if this one is killed outright. */
function spawnNode(args: readonly string[], opts: SpawnOptions): ChildProcess {
  const child = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', process.execPath, ...args], opts)
    : spawn(process.execPath, [...args], opts);
  track(child);
  return child;
}
let hooked = false;

function track(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Kills every child process started here that is still running (SIGKILL). */
export function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** The floor: a bare `node` process that only waits. */
export interface BareNodeRun extends ProcSample {
  /** When the sample was taken, ms after the spawn. */
  readonly afterMs: number;
}

/** Spawns `node -e "setTimeout(()=>{}, 1e9)"`, samples it after `afterMs` and kills it. */
export async function measureBareNode(afterMs = 2000): Promise<BareNodeRun> {
  const child = spawnNode(['-e', 'setTimeout(()=>{}, 1e9)'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await sleep(afterMs);
    if (child.pid === undefined) throw new Error('could not start a bare node process');
    return { ...procSample(child.pid), afterMs };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** Gauges read from the operator's `/metrics`. */
export interface OperatorGauges {
  readonly identitiesInUse: number;
  readonly policyEntries: number;
  readonly ipcacheEntries: number;
  readonly heapUsedMiB: number;
  readonly reconciles: number;
}

/** What one run of the operator process showed. */
export interface OperatorProcessRun {
  /** Spawn → log line "started". */
  readonly startedMs: number;
  /** Spawn → log line "initial compile done". */
  readonly readyMs: number;
  /** Fields of the "initial compile done" line (pods, identities, policies). */
  readonly initialCompile: Record<string, unknown>;
  readonly atReady: ProcSample;
  readonly gaugesAtReady: OperatorGauges;
  /** `idleMs` after ready. */
  readonly afterIdle: ProcSample;
  readonly gaugesAfterIdle: OperatorGauges;
  readonly idleMs: number;
  /** CPU used while idle, as % of one core. */
  readonly idleCpuPercent: number;
  /** SIGTERM → exit. */
  readonly stopMs: number;
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  readonly warnings: number;
  readonly errors: number;
  /** The first few warning/error lines (and any line that is not JSON). */
  readonly notable: readonly string[];
}

/** Options of {@link measureOperatorProcess}. */
export interface OperatorProcessOptions {
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly idleMs: number;
  readonly readyTimeoutMs: number;
  readonly label: string;
}

/** Sums every sample of each metric family in a Prometheus text exposition. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m?.[1] || m[2] === undefined) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(m[1], (out.get(m[1]) ?? 0) + v);
  }
  return out;
}

async function gauges(port: number): Promise<OperatorGauges> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const m = parseMetrics(await res.text());
  return {
    identitiesInUse: m.get('palisade_identities_in_use') ?? 0,
    policyEntries: m.get('palisade_compiled_policy_entries') ?? 0,
    ipcacheEntries: m.get('palisade_compiled_ipcache_entries') ?? 0,
    heapUsedMiB: (m.get('nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20,
    reconciles: m.get('palisade_operator_reconciles_total') ?? 0,
  };
}

/**
 * Starts the operator process, waits for its first complete compile, samples it then and
 * `idleMs` later, and stops it with SIGTERM.
 */
export async function measureOperatorProcess(
  o: OperatorProcessOptions,
): Promise<OperatorProcessRun> {
  const t0 = performance.now();
  const child = spawnNode(
    [
      join(REPO_ROOT, 'packages/operator/dist/main.js'),
      '--kubeconfig',
      o.kubeconfigPath,
      '--namespace',
      o.namespace,
      '--metrics-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      '127.0.0.1:0',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr = child.stderr;
  if (!stderr) throw new Error('no stderr pipe from the operator process');
  let exit: { code: number | null; signal: string | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  let warnings = 0;
  let errors = 0;
  const notable: string[] = [];
  const tail: string[] = [];
  let started: { at: number; port: number } | undefined;
  let ready: { at: number; fields: Record<string, unknown> } | undefined;
  const lines = createInterface({ input: stderr });
  lines.on('line', (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      errors++;
      if (notable.length < 8) notable.push(line);
      return;
    }
    const { level, msg } = rec;
    if (level === 'warn' || level === 'error') {
      if (level === 'warn') warnings++;
      else errors++;
      if (notable.length < 8) notable.push(line);
    }
    if (msg === 'started' && typeof rec['metricsPort'] === 'number')
      started = { at: performance.now(), port: rec['metricsPort'] };
    if (msg === 'initial compile done') {
      const fields = Object.fromEntries(
        Object.entries(rec).filter(
          ([k]) => !['time', 'level', 'component', 'msg', 'replica'].includes(k),
        ),
      );
      ready = { at: performance.now(), fields };
    }
  });
  try {
    const deadline = t0 + o.readyTimeoutMs;
    let lastReport = performance.now();
    while (!ready) {
      if (exit)
        throw new Error(
          `${o.label}: the operator exited (${exit.signal ?? `code ${exit.code ?? '?'}`}) before its initial compile:\n${tail.join('\n')}`,
        );
      if (performance.now() > deadline)
        throw new Error(
          `${o.label}: no "initial compile done" within ${o.readyTimeoutMs} ms:\n${tail.join('\n')}`,
        );
      if (performance.now() - lastReport > 3000 && child.pid !== undefined) {
        lastReport = performance.now();
        const s = procSample(child.pid);
        progress(
          `${o.label}: waiting for the initial compile (${((lastReport - t0) / 1000).toFixed(0)} s, RSS ${s.rssMiB.toFixed(0)} MiB, CPU ${s.cpuSeconds.toFixed(1)} s)`,
        );
      }
      await sleep(10);
    }
    const pid = child.pid;
    if (pid === undefined || !started) throw new Error(`${o.label}: no "started" line`);
    const atReady = procSample(pid);
    const gaugesAtReady = await gauges(started.port);
    progress(
      `${o.label}: initial compile done after ${((ready.at - t0) / 1000).toFixed(1)} s; idling ${o.idleMs / 1000} s`,
    );
    await sleep(o.idleMs);
    const afterIdle = procSample(pid);
    const gaugesAfterIdle = await gauges(started.port);
    const tStop = performance.now();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(killer);
    const stopMs = performance.now() - tStop;
    lines.close();
    return {
      startedMs: started.at - t0,
      readyMs: ready.at - t0,
      initialCompile: ready.fields,
      atReady,
      gaugesAtReady,
      afterIdle,
      gaugesAfterIdle,
      idleMs: o.idleMs,
      idleCpuPercent: ((afterIdle.cpuSeconds - atReady.cpuSeconds) / (o.idleMs / 1000)) * 100,
      stopMs,
      exitCode: exit?.code ?? null,
      exitSignal: exit?.signal ?? null,
      warnings,
      errors,
      notable,
    };
  } finally {
    if (!exit) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}
