/**
 * Shim memory benchmark (root): the resident set of a shim started as `palisade-shim` is
 * (its bin with the node flags of its shebang, default intervals, a compiled snapshot as its
 * policy source) on a node with 100 endpoints, 10k ipcache entries and 10k policy entries
 * for those endpoints, next to its baselines from the same run:
 *
 *   - an idle `node` process that has loaded the native addon,
 *   - the shim with an empty snapshot and no endpoints.
 *
 * The scenario is measured after the 100 registrations (as the CNI plugin makes them), with
 * its flow buffer full (4,096 records named from the state), after resyncs (the periodic
 * full re-read of the maps), after a restart that adopts the pinned maps, after churn
 * (100k more policy entries applied and removed again), and with the YAML source
 * (`--policy-dir`: the compiler runs in the shim). Each row gives VmRSS 1 s after the step
 * and after `--settle-ms` (V8 gives memory back when idle), and VmHWM (the peak since
 * the process started), from `/proc/<pid>/status`.
 *
 *   node packages/shim/dist/bench/memory.bench.js [--settle-ms 15000] [--resyncs 10]
 *        [--node-option FLAG]…   (more node flags for the shim, after its shebang's)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  InMemoryAllocator,
  feedEngine,
  parseObject,
  PolicyEngine,
  toSnapshot,
  type CompiledSnapshot,
  type PolicyMapEntry,
} from '@palisade/core';
import { ADDON_PATH } from '../native/addon.js';
import { callShim } from '../api/client.js';
import {
  NodeFixture,
  TEST_BPFFS,
  ip,
  privilegedSkipReason,
  shimCommand,
} from '../testing/nodeFixture.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RESYNCS = opt('resyncs', 10);
const SETTLE_MS = Math.max(1000, opt('settle-ms', 15000));
const NODE_OPTIONS = args.flatMap((a, i) => (args[i - 1] === '--node-option' ? [a] : []));

const LOCAL_PODS = 100;
const REMOTE_PODS = 10_000 - LOCAL_PODS;
const REMOTE_IDENTITIES = 50;
const FLOWS = 6000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mib = (kib: number): string => (kib / 1024).toFixed(1);

/** VmRSS and VmHWM of a process, in KiB. */
function memKiB(pid: number | undefined): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(s)?.[1]);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** The Kubernetes objects of the scenario: remote pods, local pods and their policy. */
function scenarioObjects(node: string): unknown[] {
  const out: unknown[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'remote' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'local' } },
  ];
  for (let i = 0; i < REMOTE_PODS; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `r${i}`,
        namespace: 'remote',
        labels: { app: `r${i % REMOTE_IDENTITIES}` },
      },
      spec: { nodeName: 'elsewhere' },
      status: { phase: 'Running', podIP: `10.250.${i >> 8}.${i & 255}` },
    });
  for (let i = 0; i < LOCAL_PODS; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `l${i}`, namespace: 'local', labels: { app: `l${i}` } },
      spec: { nodeName: node },
      status: { phase: 'Running', podIP: `10.251.0.${i + 1}` },
    });
  // Every local pod (its own identity) accepts TCP 80 and 443 from each remote identity:
  // 100 subjects x 50 remotes x 2 ports = 10,000 policy entries on this node.
  out.push({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'from-remote', namespace: 'local' },
    spec: {
      podSelector: {},
      ingress: [
        {
          from: Array.from({ length: REMOTE_IDENTITIES }, (_, j) => ({
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'remote' } },
            podSelector: { matchLabels: { app: `r${j}` } },
          })),
          ports: [
            { port: 80, protocol: 'TCP' },
            { port: 443, protocol: 'TCP' },
          ],
        },
      ],
    },
  });
  return out;
}

function compile(objects: readonly unknown[]): CompiledSnapshot {
  const e = new PolicyEngine({ numbering: new InMemoryAllocator() });
  feedEngine(
    e,
    objects.map((o) => parseObject(o)),
  );
  e.flush();
  return toSnapshot(e.compiled);
}

/** `n` extra allow entries for the given subjects (the churn step). */
function fillers(subjects: readonly number[], n: number): PolicyMapEntry[] {
  const out: PolicyMapEntry[] = [];
  for (let i = 0; i < n; i++)
    out.push({
      key: {
        subject: subjects[i % subjects.length] as number,
        direction: i % 2 === 0 ? 'ingress' : 'egress',
        remote: 1_000_000 + i,
        protocol: 6,
        port: 1 + (i % 65000),
        prefixLen: 16,
      },
      value: { verdict: 'allow', rules: ['bench/filler'] },
    });
  return out;
}

interface Status {
  endpoints: number;
  flowsSeen: number;
  maps: Record<string, { entries: number }>;
  memory: { rss: number; heapUsed: number; external: number };
}

/** One shim process in the node's namespace, started as `palisade-shim` is. */
class ShimProcess {
  private readonly child: ChildProcess;
  private log = '';
  private constructor(
    readonly socket: string,
    source: readonly string[],
    node: NodeFixture,
  ) {
    const [nodeBin = process.execPath, ...rest] = shimCommand();
    this.child = spawn(
      'ip',
      [
        'netns',
        'exec',
        node.name,
        nodeBin,
        ...NODE_OPTIONS,
        ...rest,
        '--node',
        node.name,
        '--bpffs',
        TEST_BPFFS,
        ...source,
        '--socket',
        socket,
        '--state-dir',
        join(node.dir, 'state'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer): void => {
      this.log = (this.log + d.toString()).slice(-4000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
  }

  static async start(node: NodeFixture, source: readonly string[]): Promise<ShimProcess> {
    const s = new ShimProcess(join(node.dir, 'mem.sock'), source, node);
    const deadline = Date.now() + 30000;
    for (;;) {
      if (s.child.exitCode !== null) throw new Error(`shim exited: ${s.log}`);
      try {
        await callShim(s.socket, 'GET', '/healthz', undefined, 1000);
        return s;
      } catch {
        if (Date.now() > deadline) throw new Error(`shim did not start: ${s.log}`);
        await sleep(50);
      }
    }
  }

  api(method: string, path: string, body?: unknown): Promise<unknown> {
    return callShim(this.socket, method, path, body, 60000);
  }

  async status(): Promise<Status> {
    return (await this.api('GET', '/v1/status')) as Status;
  }

  mem(): { rss: number; hwm: number } {
    return memKiB(this.child.pid);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    await done;
  }
}

interface Row {
  label: string;
  rss1: number;
  rss: number;
  hwm: number;
  heapUsed?: number;
  note?: string;
  /** The row the goal is about. */
  goal?: boolean;
}

async function main(): Promise<void> {
  const skip = privilegedSkipReason();
  if (skip) throw new Error(`bench:memory ${skip}`);
  const node = NodeFixture.create('mem');
  const podNs = `${node.name}-p`;
  const rows: Row[] = [];
  let shim: ShimProcess | undefined;
  const fresh = (): void => {
    rmSync(node.pinDir, { recursive: true, force: true });
    rmSync(join(node.dir, 'state'), { recursive: true, force: true });
  };
  const record = async (
    label: string,
    s: ShimProcess,
    note?: string,
    goal = false,
  ): Promise<void> => {
    await sleep(1000);
    const rss1 = s.mem().rss;
    await sleep(SETTLE_MS - 1000);
    const st = await s.status();
    const m = s.mem();
    rows.push({
      label,
      rss1,
      ...m,
      heapUsed: st.memory.heapUsed,
      goal,
      note: `${st.endpoints} endpoints, ${st.maps.pal_ipcache?.entries ?? 0} ipcache, ${st.maps.pal_policy?.entries ?? 0} policy, ${Math.min(st.flowsSeen, 4096)} flow records${note ? `; ${note}` : ''}`,
    });
    process.stderr.write(`  ${label}: ${mib(m.rss)} MiB (peak ${mib(m.hwm)} MiB)\n`);
  };
  try {
    process.stderr.write(
      `memory benchmark: ${LOCAL_PODS} endpoints, ${REMOTE_PODS + LOCAL_PODS} pods, shim: ${shimCommand().join(' ')} ${NODE_OPTIONS.join(' ')}\n`,
    );
    // --- baselines ----------------------------------------------------------------------------
    const idle = spawn(
      process.execPath,
      ['-e', `require(${JSON.stringify(ADDON_PATH)}); setTimeout(() => {}, 600000)`],
      { stdio: 'ignore' },
    );
    await sleep(1000);
    const idle1 = memKiB(idle.pid).rss;
    await sleep(SETTLE_MS - 1000);
    rows.push({ label: 'baseline: idle node, addon loaded', rss1: idle1, ...memKiB(idle.pid) });
    idle.kill();

    const objects = scenarioObjects(node.name);
    const snapshot = compile(objects);
    const empty: CompiledSnapshot = {
      identities: [],
      ipcache: [],
      endpoints: [],
      isolation: [],
      policy: [],
    };
    const snapshotPath = join(node.dir, 'compiled.json');
    const writeSnapshot = (s: CompiledSnapshot): void =>
      writeFileSync(snapshotPath, JSON.stringify(s));

    writeSnapshot(empty);
    fresh();
    shim = await ShimProcess.start(node, ['--compiled', snapshotPath]);
    await record('baseline: shim, empty snapshot, no endpoints', shim);
    await shim.stop();

    // --- the scenario -------------------------------------------------------------------------
    const links: string[] = [];
    for (let i = 0; i < LOCAL_PODS; i++)
      links.push(`link add pm${i} type veth peer name pmp${i}`, `link set pm${i} up`);
    writeFileSync(join(node.dir, 'links.batch'), `${links.join('\n')}\n`);
    ip('-n', node.name, '-batch', join(node.dir, 'links.batch'));
    const ifindex = new Map(
      (
        JSON.parse(ip('-n', node.name, '-j', 'link', 'show')) as {
          ifname: string;
          ifindex: number;
          address: string;
        }[]
      ).map((l) => [l.ifname, l]),
    );
    // Pod l0 gets a namespace of its own to send from (its traffic is new flows: events).
    ip('netns', 'add', podNs);
    ip('-n', node.name, 'link', 'set', 'pmp0', 'netns', podNs);
    for (const cmd of [
      ['link', 'set', 'lo', 'up'],
      ['link', 'set', 'pmp0', 'up'],
      ['addr', 'add', '10.251.0.1/32', 'dev', 'pmp0'],
      ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'pmp0', 'onlink'],
      ['neigh', 'add', '169.254.1.1', 'lladdr', ifindex.get('pm0')?.address ?? '', 'dev', 'pmp0'],
    ])
      ip('-n', podNs, ...cmd);

    const register = async (s: ShimProcess): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < LOCAL_PODS; i++)
        await s.api('POST', '/v1/endpoints', {
          containerId: `mem-${i}`,
          hostIfName: `pm${i}`,
          hostIfIndex: ifindex.get(`pm${i}`)?.ifindex,
          ips: [`10.251.0.${i + 1}`],
          pod: { namespace: 'local', name: `l${i}` },
        });
      return performance.now() - t0;
    };
    const resyncs = async (s: ShimProcess): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < RESYNCS; i++) await s.api('POST', '/v1/resync');
      return (performance.now() - t0) / RESYNCS;
    };
    const flows = async (s: ShimProcess): Promise<void> => {
      // New flows at ~1,000/s (the datapath's event rate), each to another remote pod.
      const script = `const s = require('dgram').createSocket('udp4'); const b = Buffer.alloc(8); let i = 0;
        const t = setInterval(() => { for (let k = 0; k < 100 && i < ${FLOWS}; k++, i++)
          s.send(b, 80, '10.250.' + ((i >> 8) & 255) + '.' + (i & 255));
          if (i >= ${FLOWS}) { clearInterval(t); setTimeout(() => s.close(), 500); } }, 100);`;
      await new Promise<void>((resolve, reject) => {
        const c = spawn('ip', ['netns', 'exec', podNs, process.execPath, '-e', script], {
          stdio: 'ignore',
        });
        c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender: ${code}`))));
      });
      await sleep(500);
      const seen = (await s.status()).flowsSeen;
      if (seen < 4096) throw new Error(`only ${seen} flow records after ${FLOWS} new flows`);
    };

    writeSnapshot(snapshot);
    fresh();
    shim = await ShimProcess.start(node, ['--compiled', snapshotPath]);
    const regMs = await register(shim);
    await record(
      'shim, compiled snapshot, 100 endpoints registered',
      shim,
      `${(regMs / LOCAL_PODS).toFixed(1)} ms per registration`,
    );
    await flows(shim);
    await record('  + flow buffer full', shim);
    const resyncMs = await resyncs(shim);
    await record(`  + ${RESYNCS} resyncs`, shim, `${resyncMs.toFixed(1)} ms per resync`, true);
    await shim.stop();

    shim = await ShimProcess.start(node, ['--compiled', snapshotPath]);
    await resyncs(shim);
    await record(`  restarted (adopts the pinned maps) + ${RESYNCS} resyncs`, shim);

    const subjects = snapshot.endpoints
      .filter((e) => e.pod.startsWith('local/'))
      .map((e) => e.identity);
    writeSnapshot({ ...snapshot, policy: [...snapshot.policy, ...fillers(subjects, 100_000)] });
    await shim.api('POST', '/v1/reload');
    writeSnapshot(snapshot);
    await shim.api('POST', '/v1/reload');
    await resyncs(shim);
    await record(`  + 100k policy entries applied and removed, + ${RESYNCS} resyncs`, shim);
    await shim.stop();

    // --- the YAML source: the compiler runs in the shim ---------------------------------------
    const policyDir = join(node.dir, 'policy-yaml');
    mkdirSync(policyDir, { recursive: true });
    writeFileSync(join(policyDir, 'objects.yaml'), objects.map((o) => stringify(o)).join('---\n'));
    fresh();
    shim = await ShimProcess.start(node, ['--policy-dir', policyDir]);
    await register(shim);
    await resyncs(shim);
    await record(`shim, --policy-dir (YAML compiled in the shim), + ${RESYNCS} resyncs`, shim);
    await shim.stop();
    shim = undefined;

    // --- report -------------------------------------------------------------------------------
    console.log(
      `\nShim memory, MiB: RSS 1 s after each step, RSS after ${SETTLE_MS / 1000} s, peak (VmHWM since the process started), JS heap in use`,
    );
    console.log(
      `${'process'.padEnd(66)} ${'RSS 1s'.padStart(7)} ${`RSS ${SETTLE_MS / 1000}s`.padStart(8)} ${'peak'.padStart(6)} ${'heap'.padStart(5)}`,
    );
    for (const r of rows)
      console.log(
        `${r.label.padEnd(66)} ${mib(r.rss1).padStart(7)} ${mib(r.rss).padStart(8)} ${mib(r.hwm).padStart(6)} ${(r.heapUsed === undefined ? '' : (r.heapUsed / 1048576).toFixed(1)).padStart(5)}${r.note ? `   (${r.note})` : ''}`,
      );
    const goal = rows.find((r) => r.goal);
    if (goal)
      console.log(
        `\nGoal <= 100 MiB with 100 endpoints and 10k ipcache entries (flows full, after resyncs): RSS ${mib(goal.rss)} MiB, peak ${mib(goal.hwm)} MiB`,
      );
  } catch (e) {
    process.stderr.write('bench:memory failed\n');
    throw e;
  } finally {
    await shim?.stop();
    try {
      ip('netns', 'del', podNs);
    } catch {
      // not created
    }
    await node.close();
  }
}

main().catch((e: unknown) => {
  console.error(`bench:memory: ${(e as Error).message}`);
  process.exit(1);
});
