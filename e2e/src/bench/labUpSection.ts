/**
 * Section 3 of the lab benchmark: how long `Lab.up` takes until the lab is ready (every
 * shim has its first snapshot), warm and cold.
 *
 * Each run is a child process (`lab.bench.js --up-once`), as `palisade lab up` is: it
 * imports the lab, runs `Lab.up`, then `down`, and prints one JSON line with its timings;
 * the parent also times the whole process. The split comes from the time each of Lab.up's
 * progress lines arrived: the node namespaces, etcd + kube-apiserver (which includes
 * `scripts/install-kube.sh` finding — or building — kube-apiserver and kubectl), CRDs + the
 * operator until it published its CA, the shims until each synced.
 *
 * - **warm**: everything built, the kube binaries cached (the median of `runs`);
 * - **cold** (opt-in): the kube binaries' cache (`PALISADE_CACHE`) and Go's build cache
 *   (`GOCACHE`) point to empty directories, so install-kube.sh builds kube-apiserver and
 *   kubectl from source as on a first run. Go's module cache (`GOMODCACHE`) is kept: the
 *   modules are not downloaded again. The directories are removed afterwards.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Lab } from '../lab/lab.js';
import { progress } from './benchKit.js';

/** When each part of one `Lab.up` was done (ms since Lab.up was called). */
export interface UpRun {
  /** Lab.up → ready. */
  readonly upMs: number;
  /** The node namespaces and routes exist. */
  readonly networkMs: number | undefined;
  /** etcd and kube-apiserver answer (kube binaries found or built). */
  readonly controlPlaneMs: number | undefined;
  /** The operator published its CA. */
  readonly operatorMs: number | undefined;
  /** Every shim synced (= ready). */
  readonly shimsMs: number | undefined;
  /** `down` (everything removed). */
  readonly downMs: number;
  /** What down left behind (should be nothing). */
  readonly leftovers: string;
  /** The whole child process, as the parent saw it (node start, imports, up, down). */
  readonly processMs: number;
}

/** The section's figures. */
export interface UpResult {
  readonly nodes: number;
  readonly warm: readonly UpRun[];
  readonly cold: UpRun | undefined;
}

const STEPS: readonly [keyof UpRun, RegExp][] = [
  ['networkMs', /^lab: \d+ node namespaces/],
  ['controlPlaneMs', /^lab: etcd and kube-apiserver ready/],
  ['operatorMs', /^lab: operator up/],
  ['shimsMs', /^lab: \d+ shims synced/],
];

/** The `--up-once` child: one Lab.up and down; the timings as one JSON line on stdout. */
export async function upOnce(nodes: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-lab-bench-up-'));
  const marks: Record<string, number> = {};
  // A signal during Lab.up reaches its children too, so Lab.up fails and removes what it
  // made; after it, the lab is taken down here.
  const held: { lab?: Lab; interrupted?: boolean } = {};
  const onSignal = (): void => {
    held.interrupted = true;
    if (held.lab) void held.lab.down().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const t0 = performance.now();
  const lab = await Lab.up({
    dir,
    nodes,
    log: (line) => {
      const at = performance.now() - t0;
      for (const [k, re] of STEPS) if (re.test(line)) marks[k] ??= at;
      process.stderr.write(`    [+${(at / 1000).toFixed(1)} s] ${line}\n`);
    },
  });
  held.lab = lab;
  if (held.interrupted) {
    await lab.down();
    process.exit(130);
  }
  const upMs = performance.now() - t0;
  const d0 = performance.now();
  const left = await lab.down();
  const downMs = performance.now() - d0;
  rmSync(dir, { recursive: true, force: true });
  const l = [
    ...left.namespaces,
    ...left.links,
    ...(left.pins ? ['bpf pins'] : []),
    ...left.processes.map((p) => `pid ${p}`),
  ];
  process.stdout.write(
    `${JSON.stringify({ upMs, ...marks, downMs, leftovers: l.length === 0 ? 'none' : l.join(', ') })}\n`,
  );
}

/** Runs one `--up-once` child with `env` changes; resolves with its timings. */
function runChild(nodes: number, env: Record<string, string | undefined>): Promise<UpRun> {
  const main = fileURLToPath(new URL('./lab.bench.js', import.meta.url));
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env))
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, '--up-once', '--nodes', String(nodes)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: childEnv,
    });
    const forward = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      const processMs = performance.now() - t0;
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(new Error(`lab up child exited with ${signal ?? String(code)}: ${out.trim()}`));
        return;
      }
      try {
        const r = JSON.parse(line) as Omit<UpRun, 'processMs'>;
        resolve({ ...r, processMs });
      } catch {
        reject(new Error(`lab up child printed no timings: ${out.trim()}`));
      }
    });
  });
}

/** The median run by `upMs`. */
export function medianRun(runs: readonly UpRun[]): UpRun | undefined {
  const s = [...runs].sort((a, b) => a.upMs - b.upMs);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Runs the section: the cold run first (when asked), then `runs` warm ones. */
export async function upSection(nodes: number, runs: number, cold: boolean): Promise<UpResult> {
  let coldRun: UpRun | undefined;
  if (cold) {
    const base = mkdtempSync(join(tmpdir(), 'palisade-lab-bench-cold-'));
    progress(
      `  cold: PALISADE_CACHE=${base}/cache GOCACHE=${base}/go-build (kube-apiserver and kubectl are built from source: minutes)`,
    );
    try {
      coldRun = await runChild(nodes, {
        PALISADE_CACHE: join(base, 'cache'),
        GOCACHE: join(base, 'go-build'),
        PALISADE_KUBE_BIN_DIR: undefined,
      });
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
    progress(`  cold: ready in ${(coldRun.upMs / 1000).toFixed(1)} s`);
  }
  const warm: UpRun[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await runChild(nodes, {});
    warm.push(r);
    progress(`  warm ${i + 1}/${runs}: ready in ${(r.upMs / 1000).toFixed(2)} s`);
  }
  return { nodes, warm, cold: coldRun };
}
