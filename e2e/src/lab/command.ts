/**
 * `palisade lab …` (the CLI forwards here; contract in the design brief §6):
 *
 *   lab up [--nodes N] [--identity-store crd|redis] [--dir .lab]   start, wait, print `export KUBECONFIG=…`
 *   lab status [--dir .lab]                                        every part and its health
 *   lab down [--dir .lab]                                          stop and remove everything
 *   lab exec <ns>/<pod> [--dir .lab] -- <cmd…>                     run a command in a pod
 *   lab probe [--port 80/TCP]… [-o table|json] [--timeout MS]      every ordered pod pair, for real
 *
 * `up` starts the lab daemon (daemon.ts) detached, shows its progress, and returns once the
 * daemon has written `<dir>/state.json`. The other commands read that file.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parsePortArg } from '@palisade/core';
import {
  renderJson,
  renderTable,
  Simulation,
  type ProbePort,
  type VerdictLine,
} from '@palisade/cli';
import { KubeClient, Resources, type KubeObject } from '@palisade/operator';
import { probeTargets, readPodRecords } from './kubelet.js';
import { labStatus, leftovers, sweepLab } from './lab.js';
import { LabError } from './labError.js';
import { liveObjects } from './liveObjects.js';
import { alive, readState, requireState, statePath, type LabState } from './labState.js';
import { cellKey, describeMismatches, probePodsUntil, type Expect } from './reachability.js';
import { probeAll, type LabProbePort, type ProbePod } from './prober.js';

/** Where a command writes. */
export interface LabIo {
  out(text: string): void;
  err(line: string): void;
}

const DAEMON = fileURLToPath(new URL('./daemon.js', import.meta.url));

/** Usage of `lab`. */
export const LAB_USAGE = `palisade lab up [--nodes N] [--identity-store crd|redis] [--dir .lab]
    Start a cluster on this machine (etcd, kube-apiserver, the operator, N nodes as network
    namespaces with a shim each, a stand-in kubelet); prints \`export KUBECONFIG=…\`.
palisade lab status [--dir .lab]          every part and its health
palisade lab down [--dir .lab]            stop and remove everything the lab made
palisade lab exec <ns>/<pod> [--dir .lab] -- <cmd…>   run a command in a pod's network namespace
palisade lab probe [--port 80/TCP]… [-o table|json] [--timeout MS] [--wait] [--dir .lab]
    Try every ordered pair of pods for real; -o json prints what \`policy simulate -o json\` prints.
    --wait: probe again until the kernel agrees with \`policy simulate\` on the cluster's
    objects (at most --wait-timeout seconds, default 60; exit 1 if it never does).`;

/** Runs `lab <argv>`; resolves with the exit status. */
export async function labMain(argv: readonly string[], io: LabIo): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (process.getuid?.() !== 0 && sub !== undefined && sub !== 'help')
      throw new LabError('USAGE', 'the lab needs root (network namespaces, eBPF)');
    switch (sub) {
      case 'up':
        return await up(rest, io);
      case 'status':
        return await status(rest, io);
      case 'down':
        return await down(rest, io);
      case 'exec':
        return await exec(rest, io);
      case 'probe':
        return await probe(rest, io);
      case undefined:
      case 'help':
      case '--help':
        io.out(`${LAB_USAGE}\n`);
        return sub === undefined ? 2 : 0;
      default:
        throw new LabError('USAGE', `unknown lab command "${sub}"\n${LAB_USAGE}`);
    }
  } catch (err) {
    if (err instanceof LabError) {
      io.err(`palisade lab: ${err.message}`);
      return err.code === 'USAGE' ? 2 : 1;
    }
    throw err;
  }
}

function args(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']> = {},
): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({
      args: [...argv],
      options: { dir: { type: 'string', default: '.lab' }, ...options },
      allowPositionals: true,
    });
  } catch (err) {
    throw new LabError('USAGE', (err as Error).message, { cause: err });
  }
}

function dirOf(v: Record<string, unknown>): string {
  return resolve(typeof v['dir'] === 'string' ? v['dir'] : '.lab');
}

async function up(argv: readonly string[], io: LabIo): Promise<number> {
  const { values } = args(argv, {
    nodes: { type: 'string', default: '2' },
    'identity-store': { type: 'string', default: 'crd' },
  });
  const dir = dirOf(values);
  const nodes = Number(values['nodes']);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50)
    throw new LabError(
      'USAGE',
      `--nodes must be an integer in [1, 50], got ${String(values['nodes'])}`,
    );
  const store = values['identity-store'];
  if (store !== 'crd' && store !== 'redis')
    throw new LabError('USAGE', `--identity-store must be crd or redis, got ${String(store)}`);
  const existing = readState(dir);
  if (existing && alive(existing.pid)) {
    io.err(
      `palisade lab: a lab already runs in ${dir} (pid ${existing.pid}); \`lab down\` stops it`,
    );
    io.out(`export KUBECONFIG=${existing.kubeconfig}\n`);
    return 0;
  }
  if (existing) {
    io.err(`palisade lab: the lab in ${dir} died; removing what it left first`);
    sweepLab(existing.slot, existing.bpffs, existing.pids);
    rmSync(existing.controlPlaneDir, { recursive: true, force: true });
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const logFile = join(dir, 'logs', 'lab.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [DAEMON, '--dir', dir, '--nodes', String(nodes), '--identity-store', store],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  let shown = 0;
  const show = (): void => {
    let text = '';
    try {
      text = readFileSync(logFile, 'utf8');
    } catch {
      return;
    }
    const lines = text.split('\n').filter((l) => l !== '');
    for (const l of lines.slice(shown)) io.err(l.replace(/^\S+Z /, ''));
    shown = lines.length;
  };
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    show();
    if (existsSync(statePath(dir))) break;
    if (exited !== undefined) {
      show();
      throw new LabError('NOT_READY', `the lab did not start (log: ${logFile})`);
    }
    if (Date.now() > deadline) {
      process.kill(child.pid ?? 0, 'SIGTERM');
      throw new LabError('NOT_READY', `the lab was not ready after 10 min (log: ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const s = requireState(dir);
  io.err(`lab: ${s.nodes.length} nodes ready in ${(s.readyAfterMs / 1000).toFixed(1)} s; next:`);
  io.err(`  kubectl get nodes,pods -A          (after the export below)`);
  io.err(`  pnpm -s palisade lab status | probe | exec <ns>/<pod> -- <cmd> | down`);
  io.out(`export KUBECONFIG=${s.kubeconfig}\n`);
  return 0;
}

async function status(argv: readonly string[], io: LabIo): Promise<number> {
  const { values } = args(argv);
  const s = requireState(dirOf(values));
  const parts = await labStatus(s);
  const w = Math.max(...parts.map((p) => p.part.length));
  for (const p of parts) io.out(`${p.part.padEnd(w)}  ${p.ok ? 'ok  ' : 'DOWN'}  ${p.detail}\n`);
  return parts.every((p) => p.ok) ? 0 : 1;
}

async function down(argv: readonly string[], io: LabIo): Promise<number> {
  const { values } = args(argv);
  const dir = dirOf(values);
  const s = readState(dir);
  if (!s) {
    io.err(`palisade lab: no lab in ${dir}; nothing to do`);
    return 0;
  }
  if (alive(s.pid)) {
    process.kill(s.pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (alive(s.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(s.pid)) process.kill(s.pid, 'SIGKILL');
  }
  // Whatever the daemon could not remove (or all of it, if it had died).
  sweepLab(s.slot, s.bpffs, s.pids);
  rmSync(s.controlPlaneDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  const left = leftovers(s.slot, s.bpffs, s.pids);
  const rest = [
    ...left.namespaces.map((n) => `netns ${n}`),
    ...left.links.map((l) => `link ${l}`),
    ...(left.pins ? [`pins in ${s.bpffs}`] : []),
    ...left.processes.map((p) => `process ${p}`),
    ...(existsSync(s.controlPlaneDir) ? [s.controlPlaneDir] : []),
    ...(existsSync(dir) ? [dir] : []),
  ];
  if (rest.length > 0) {
    io.err(`palisade lab: down, but these are left: ${rest.join(', ')}`);
    return 1;
  }
  io.err(`lab: down; no namespace, link, pin, process or file of it is left`);
  return 0;
}

async function exec(argv: readonly string[], io: LabIo): Promise<number> {
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1)
    throw new LabError('USAGE', 'usage: palisade lab exec <ns>/<pod> -- <cmd…>');
  const { values, positionals } = args(argv.slice(0, sep));
  const target = positionals[0];
  if (!target || !target.includes('/'))
    throw new LabError('USAGE', 'usage: palisade lab exec <ns>/<pod> -- <cmd…>');
  const dir = dirOf(values);
  requireState(dir);
  const [ns, name] = target.split('/');
  const rec = readPodRecords(dir).find((r) => r.namespace === ns && r.name === name);
  if (!rec)
    throw new LabError(
      'EXEC',
      `no running pod ${target} in the lab (kubectl get pods -n ${ns ?? ''})`,
    );
  const cmd = argv.slice(sep + 1);
  return new Promise((res) => {
    const child = spawn('ip', ['netns', 'exec', rec.netns, ...cmd], { stdio: 'inherit' });
    child.on('error', (e) => {
      io.err(`palisade lab: ${e.message}`);
      res(1);
    });
    child.on('exit', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
}

async function probe(argv: readonly string[], io: LabIo): Promise<number> {
  const { values } = args(argv, {
    port: { type: 'string', multiple: true },
    output: { type: 'string', short: 'o', default: 'table' },
    timeout: { type: 'string', default: '1000' },
    wait: { type: 'boolean', default: false },
    'wait-timeout': { type: 'string', default: '60' },
  });
  const output = values['output'];
  if (output !== 'table' && output !== 'json')
    throw new LabError('USAGE', `-o must be table or json, got ${String(output)}`);
  const timeoutMs = Number(values['timeout']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
    throw new LabError(
      'USAGE',
      `--timeout must be a positive integer (ms), got ${String(values['timeout'])}`,
    );
  const dir = dirOf(values);
  const s = requireState(dir);
  const records = new Map(readPodRecords(dir).map((r) => [`${r.namespace}/${r.name}`, r]));
  const client = KubeClient.load(s.kubeconfig);
  let pods: ProbePod[];
  try {
    pods = probeTargets((await client.listAll<KubeObject>(Resources.pods)).items, (key) =>
      records.get(key),
    );
  } finally {
    client.close();
  }
  const portArgs = (values['port'] as string[] | undefined) ?? [];
  const ports: LabProbePort[] = portArgs.map((a) => {
    const p = parsePortArg(a);
    if (!p || p.protocol === 'ICMPv6' || p.protocol === 'ANY')
      throw new LabError('USAGE', `--port ${a}: expected <port>/<TCP|UDP|SCTP|ICMP>, e.g. 80/TCP`);
    return { port: p.port, protocol: p.protocol };
  });
  if (ports.length === 0) {
    const seen = new Map<string, LabProbePort>();
    for (const p of pods)
      for (const c of p.ports)
        seen.set(`${c.containerPort}/${c.protocol}`, {
          port: c.containerPort,
          protocol: c.protocol as LabProbePort['protocol'],
        });
    ports.push(
      ...[...seen.values()].sort(
        (a, b) => Number(a.port) - Number(b.port) || (a.protocol < b.protocol ? -1 : 1),
      ),
    );
    if (ports.length === 0) ports.push({ port: 80, protocol: 'TCP' });
  }
  if (pods.length < 2) {
    io.err(`palisade lab: ${pods.length} running pod(s): nothing to probe`);
    if (output === 'json') io.out(renderJson([]));
    return 0;
  }
  if (values['wait'] === true) return probeAndWait(s, pods, ports, timeoutMs, values, output, io);
  let last = 0;
  const results = await probeAll(pods, ports, {
    timeoutMs,
    retries: 1,
    onProbe: (done, total) => {
      if (output === 'table' && process.stderr.isTTY && Date.now() - last > 250) {
        last = Date.now();
        process.stderr.write(`\rprobing ${done}/${total}`);
      }
    },
  });
  if (output === 'table' && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  io.out(render(results, pods, output));
  return 0;
}

/**
 * `lab probe --wait`: re-probes until the kernel agrees, on every pair, with what `policy
 * simulate` computes from the policies and pods in the apiserver (a policy just applied
 * takes a moment to reach the nodes), or `--wait-timeout` seconds pass. Each result gets the
 * simulator's verdict as `simulated`; disagreements left at the deadline are listed and the
 * exit status is 1.
 */
async function probeAndWait(
  s: LabState,
  pods: ProbePod[],
  ports: LabProbePort[],
  timeoutMs: number,
  values: Record<string, unknown>,
  output: 'table' | 'json',
  io: LabIo,
): Promise<number> {
  const waitS = Number(values['wait-timeout']);
  if (!(waitS > 0))
    throw new LabError(
      'USAGE',
      `--wait-timeout must be positive (seconds), got ${String(values['wait-timeout'])}`,
    );
  const client = KubeClient.load(s.kubeconfig);
  let simulated: Map<string, 'allow' | 'deny'>;
  try {
    const sim = new Simulation(await liveObjects(client));
    simulated = new Map(sim.simulate(ports as ProbePort[]).map((r) => [cellKey(r), r.verdict]));
  } finally {
    client.close();
  }
  const expect: Expect = (r) => simulated.get(cellKey(r));
  const r = await probePodsUntil(pods, ports, expect, { deadlineMs: waitS * 1000, timeoutMs });
  const results = r.results.map((x) => ({
    ...x,
    simulated: simulated.get(cellKey(x)) ?? 'unknown',
  }));
  io.out(render(results, pods, output));
  if (r.mismatches.length > 0) {
    io.err(
      `palisade lab: after ${(r.elapsedMs / 1000).toFixed(1)} s the kernel still disagrees with \`policy simulate\` on:`,
    );
    io.err(describeMismatches(r.mismatches, expect));
    return 1;
  }
  io.err(
    `lab: the kernel agrees with \`policy simulate\` on all ${results.length} flows (after ${(r.elapsedMs / 1000).toFixed(1)} s)`,
  );
  return 0;
}

/** The results as `-o json` (the `policy simulate` shape) or as the matrix. */
function render(
  results: readonly VerdictLine[],
  pods: readonly ProbePod[],
  output: 'table' | 'json',
): string {
  return output === 'json'
    ? renderJson(results)
    : renderTable(
        results,
        pods.map((p) => p.key),
      );
}
