/**
 * Policy distribution benchmark (design §4, §9: "policy change → applied on every node,
 * 1,000 simulated nodes: ≤ 1 s p99"), every figure next to a baseline from the same run.
 *
 * For each scale (100 and 1,000 nodes; `--quick`: 100 only, fewer rounds):
 *
 * 1. A synthetic cluster in a `PolicyEngine`: N nodes with 10 pods each in 50 namespaces,
 *    ~300 background NetworkPolicies. Pod 0 of node i is labelled `app=rare-<i mod 100>`
 *    (a policy selecting one such label concerns exactly 1% of the nodes), pod 1
 *    `app=everywhere` (on every node), the others `app=svc-<0..39>`.
 * 2. The operator side in this process: a `Distributor` fed by the engine and a
 *    `DistributionServer` on 127.0.0.1:0 with real mutual TLS (a CA from `generateCa`,
 *    `checkPeer` on every stream).
 * 3. The fleet in a child process (`distributionFleet.ts`): N gRPC streams, each with its
 *    own node certificate, each keeping its state as a shim does and acking every revision
 *    right after applying it.
 * 4. Rounds, each: a PalisadeClusterNetworkPolicy selecting `app=everywhere` is created
 *    (t0 just before `engine.flush()`; done at the last ack of its revision from every node
 *    that was sent a frame) and deleted again; the same with a policy selecting one
 *    `app=rare-<k>` (1% of the nodes). Baseline, interleaved with them (A-B / B-A): the
 *    transport floor — a minimal frame written by this process straight to the same
 *    streams (all of them, or the same 1%), decoded by each simulated shim and acked at
 *    once; done at the last ack.
 * 5. Bytes of the 1% change's frames against sending the whole change, or the whole state,
 *    to every node; this process's RSS and CPU before the streams, with N idle streams and
 *    during the rounds.
 *
 *   node e2e/dist/bench/distribution.bench.js [--quick] [--nodes 100,1000] [--rounds N]
 *     [-o json] [--fleet-node-option FLAG]...
 *
 * `--fleet-node-option` passes a flag to the fleet's `node` (e.g. `--cpu-prof`); the
 * benchmark's own process takes node flags as usual.
 *
 * Progress goes to stderr, the report (or with `-o json` a JSON object) to stdout. The
 * child, the server and the temporary key file are removed at the end, also on failure or
 * Ctrl-C.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PeerCertificate } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deltaFrame } from '@palisade/api';
import { deltaSize, policyEntryCount, type CompiledDelta } from '@palisade/core';
import {
  checkPeer,
  DistributionServer,
  Distributor,
  generateCa,
  issueNodeCertificate,
  issueServerCertificate,
  OperatorMetrics,
  type CertificateAuthority,
  type HelloInfo,
  type NodeSession,
} from '@palisade/operator';
import { fmtInt, fmtMs, latencyStats, progress, sleep, type LatencyStats } from './benchKit.js';
import { formatGoal, formatScale, type ScaleResult } from './distributionReport.js';
import {
  nodeName,
  rareApp,
  mustPolicy,
  roundPolicy,
  type Cluster,
  buildCluster,
  stateAsDelta,
  encodedSize,
  NAMESPACES,
  SVC_APPS,
} from './distributionCluster.js';
import type {
  FleetCommand,
  FleetConfig,
  FleetNode,
  FleetReport,
  FleetStats,
} from './distributionFleet.js';

/** Epoch of the probe frames (a real epoch is `<base36>-<hex>`). */
const PING_EPOCH = 'bench-ping';
/** Probe revisions start above this; real revisions never get near it. */
const PING_REVISION_BASE = 2 ** 40;
const ACK_TIMEOUT_MS = 30_000;
const STEP_PAUSE_MS = 10;
const CONNECT_TIMEOUT_MS = 180_000;

/** What the command line asked for. */
interface BenchConfig {
  readonly scales: readonly number[];
  /** Measured rounds per scale (undefined: the default for the scale). */
  readonly rounds: number | undefined;
  readonly quick: boolean;
  readonly json: boolean;
  /** Node flags for the fleet process (e.g. `--cpu-prof`). */
  readonly fleetNodeOptions: readonly string[];
}

function parseConfig(argv: readonly string[]): BenchConfig {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean' },
      nodes: { type: 'string' },
      rounds: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'fleet-node-option': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'node e2e/dist/bench/distribution.bench.js [--quick] [--nodes 100,1000] [--rounds N] [-o json] [--fleet-node-option FLAG]...\n',
    );
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const positive = (flag: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`--${flag}: "${v}" is not a positive integer`);
    return n;
  };
  const scales =
    values.nodes === undefined
      ? quick
        ? [100]
        : [100, 1000]
      : values.nodes.split(',').map((v) => positive('nodes', v.trim()));
  for (const n of scales)
    if (n < 100 || n % 100 !== 0)
      throw new Error(
        `--nodes: ${n} must be a multiple of 100 (1% of the nodes is a whole number)`,
      );
  if (values.output !== undefined && values.output !== 'json' && values.output !== 'text')
    throw new Error(`-o: "${values.output}" is not json or text`);
  return {
    scales,
    rounds: values.rounds === undefined ? undefined : positive('rounds', values.rounds),
    quick,
    json: values.output === 'json',
    fleetNodeOptions: values['fleet-node-option'] ?? [],
  };
}

// ---- the operator side ----------------------------------------------------------------

interface AckWait {
  readonly revision: number;
  readonly ping: boolean;
  readonly nodes: Set<string>;
  /** When the first of the awaited acks arrived. */
  first: number | undefined;
  readonly resolve: (at: AckTimes) => void;
}

/** `performance.now()` at the first and at the last of a set of acks. */
interface AckTimes {
  readonly first: number;
  readonly last: number;
}

/**
 * The distributor with the benchmark's taps: bytes each node's session is given, the
 * moment the last awaited ack arrives, and the streams themselves for the probe frames
 * (whose acks never reach the distributor).
 */
class BenchDistributor extends Distributor {
  private readonly raw = new Map<string, NodeSession>();
  private readonly counted = new WeakMap<NodeSession, NodeSession>();
  private writes: Map<string, number> | undefined;
  private wait: AckWait | undefined;

  override attach(node: string, hello: HelloInfo, session: NodeSession): () => void {
    const counted: NodeSession = {
      write: (frame) => {
        const w = this.writes;
        if (w) w.set(node, (w.get(node) ?? 0) + frame.length);
        return session.write(frame);
      },
      onDrain: (cb) => session.onDrain(cb),
      close: (reason) => session.close(reason),
    };
    this.raw.set(node, session);
    this.counted.set(session, counted);
    return super.attach(node, hello, counted);
  }

  override ack(node: string, session: NodeSession, revision: number): void {
    if (revision >= PING_REVISION_BASE) {
      this.arrived(node, revision, true);
      return;
    }
    super.ack(node, this.counted.get(session) ?? session, revision);
    this.arrived(node, revision, false);
  }

  override resync(node: string, session: NodeSession, reason: string): void {
    super.resync(node, this.counted.get(session) ?? session, reason);
  }

  /** Starts counting the bytes written per node. */
  countWrites(): void {
    this.writes = new Map();
  }

  /** Node → bytes written since `countWrites`; stops counting. */
  takeWrites(): Map<string, number> {
    const w = this.writes ?? new Map<string, number>();
    this.writes = undefined;
    return w;
  }

  /**
   * Resolves with `performance.now()` at the first ack and at the ack that completes
   * `nodes` (acks of `revision` or later; for a probe, of exactly it).
   */
  acks(nodes: Iterable<string>, revision: number, ping: boolean): Promise<AckTimes> {
    const set = new Set(nodes);
    if (set.size === 0) {
      const now = performance.now();
      return Promise.resolve({ first: now, last: now });
    }
    return new Promise<AckTimes>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wait = undefined;
        const missing = [...set];
        const info = this.nodes().filter((n) => set.has(n.node));
        reject(
          new Error(
            `${missing.length} nodes did not ack revision ${revision} within ${ACK_TIMEOUT_MS} ms: ${JSON.stringify(info.slice(0, 3))}`,
          ),
        );
      }, ACK_TIMEOUT_MS);
      this.wait = {
        revision,
        ping,
        nodes: set,
        first: undefined,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
    });
  }

  /** Writes a probe frame straight to the streams of `nodes`. */
  ping(nodes: readonly string[], revision: number): void {
    const frame = deltaFrame(PING_EPOCH, revision, 0, []);
    for (const n of nodes) this.raw.get(n)?.write(frame);
  }

  private arrived(node: string, revision: number, ping: boolean): void {
    const w = this.wait;
    if (!w || w.ping !== ping) return;
    if (ping ? revision !== w.revision : revision < w.revision) return;
    if (!w.nodes.has(node)) return;
    const now = performance.now();
    w.first ??= now;
    w.nodes.delete(node);
    if (w.nodes.size > 0) return;
    this.wait = undefined;
    w.resolve({ first: w.first, last: now });
  }
}

// ---- the fleet process ----------------------------------------------------------------

/** The child process and its messages. */
class Fleet {
  private readonly listeners = new Set<(r: FleetReport) => void>();
  exited = false;
  exitCode: number | null = null;
  lastProgress = { opened: 0, synced: 0 };

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: FleetReport) => {
      if (m.type === 'progress') this.lastProgress = { opened: m.opened, synced: m.synced };
      if (m.type === 'failed') progress(`fleet failed: ${m.message}`);
      for (const l of [...this.listeners]) l(m);
    });
    child.on('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
      for (const l of [...this.listeners])
        l({ type: 'failed', message: `fleet exited with code ${code ?? 'null'}` });
    });
  }

  /** Resolves with the first report `pick` accepts; rejects on `failed` or after `ms`. */
  next<T>(pick: (r: FleetReport) => T | undefined, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = (r: FleetReport): void => {
        if (r.type === 'failed') {
          done();
          reject(new Error(`fleet: ${r.message}`));
          return;
        }
        const v = pick(r);
        if (v !== undefined) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`fleet: no answer within ${ms} ms`));
      }, ms);
      this.listeners.add(listener);
      if (this.exited) listener({ type: 'failed', message: 'fleet is not running' });
    });
  }

  send(c: FleetCommand): void {
    if (!this.exited && this.child.connected) this.child.send(c);
  }

  async stats(): Promise<FleetStats> {
    const p = this.next((r) => (r.type === 'stats' ? r.stats : undefined), 30_000);
    this.send({ type: 'stats' });
    return p;
  }

  /** Asks the fleet to close its streams and exit; kills it after `ms`. */
  async close(ms = 5000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'close' });
    const t = setTimeout(() => this.kill(), ms);
    await exited;
    clearTimeout(t);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

// ---- measurement ----------------------------------------------------------------------

/** One measured change (created, then its removal). */
interface ChangeSample {
  /** t0 (before flush) → the last ack. */
  readonly propagationMs: number;
  /** t0 → the first ack. */
  readonly firstAckMs: number;
  readonly flushMs: number;
  /** `Distributor.applyDelta`: split per node, encode once, write every frame. */
  readonly distributeMs: number;
  readonly nodesSent: number;
  readonly bytesSent: number;
  /** The change's compiled delta encoded whole (what one broadcast frame would carry). */
  readonly fullDeltaBytes: number;
  readonly deltaEntries: number;
  /** Removal of the same policy: t0 → last ack. */
  readonly removalMs: number;
  readonly removalNodes: number;
}

interface PingSample {
  /** Write → last ack. */
  readonly ms: number;
  /** Write → first ack. */
  readonly firstMs: number;
  readonly nodes: number;
}

/** What one scale's run holds to measure with. */
interface Rig {
  readonly cluster: Cluster;
  readonly d: BenchDistributor;
  pingSeq: number;
}

async function ping(rig: Rig, nodes: readonly string[]): Promise<PingSample> {
  const revision = PING_REVISION_BASE + ++rig.pingSeq;
  const t0 = performance.now();
  const acked = rig.d.acks(nodes, revision, true);
  rig.d.ping(nodes, revision);
  const t1 = await acked;
  return { ms: t1.last - t0, firstMs: t1.first - t0, nodes: nodes.length };
}

/** Flushes the engine into the distributor and waits for every node sent a frame to ack. */
async function propagate(
  rig: Rig,
  key: string,
  exclude?: string,
): Promise<{
  ms: number;
  firstMs: number;
  flushMs: number;
  distributeMs: number;
  writes: Map<string, number>;
  delta: CompiledDelta;
}> {
  const { engine } = rig.cluster;
  const d = rig.d;
  d.countWrites();
  const t0 = performance.now();
  const seenAt = Date.now();
  const delta = engine.flush();
  const t1 = performance.now();
  d.applyDelta(delta, engine.compiled, [{ key, seenAt }]);
  const t2 = performance.now();
  const writes = d.takeWrites();
  const t3 = await d.acks(
    [...writes.keys()].filter((n) => n !== exclude),
    d.revision,
    false,
  );
  return {
    ms: t3.last - t0,
    firstMs: t3.first - t0,
    flushMs: t1 - t0,
    distributeMs: t2 - t1,
    writes,
    delta,
  };
}

async function change(rig: Rig, obj: unknown, exclude?: string): Promise<ChangeSample> {
  const p = mustPolicy(obj);
  rig.cluster.engine.upsertPolicy(p.policy);
  const up = await propagate(rig, p.policy.key, exclude);
  await sleep(STEP_PAUSE_MS);
  rig.cluster.engine.deletePolicy(p.policy.key);
  const down = await propagate(rig, p.policy.key, exclude);
  rig.d.forgetPolicy(p.policy.key);
  let bytes = 0;
  for (const b of up.writes.values()) bytes += b;
  return {
    propagationMs: up.ms,
    firstAckMs: up.firstMs,
    flushMs: up.flushMs,
    distributeMs: up.distributeMs,
    nodesSent: up.writes.size,
    bytesSent: bytes,
    fullDeltaBytes: encodedSize(up.delta),
    deltaEntries: deltaSize(up.delta),
    removalMs: down.ms,
    removalNodes: down.writes.size,
  };
}

/** CPU seconds of this process (user + system). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** A full garbage collection (`--expose-gc` turned on at run time when not given). */
function forceGc(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

/** Samples this process's RSS until stopped; returns the largest value seen. */
function rssPeakSampler(everyMs = 50): () => number {
  let peak = rssMiB();
  const t = setInterval(() => {
    peak = Math.max(peak, rssMiB());
  }, everyMs);
  return () => {
    clearInterval(t);
    return Math.max(peak, rssMiB());
  };
}

function median(xs: readonly number[]): number {
  return latencyStats(xs).p50;
}

/** Node certificates issued once, for the largest scale; a scale uses the first N. */
interface Pki {
  readonly ca: CertificateAuthority;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  readonly nodes: readonly FleetNode[];
}

async function makePki(count: number): Promise<Pki> {
  const t0 = performance.now();
  const ca = await generateCa({ commonName: 'palisade-bench-ca' });
  const server = await issueServerCertificate(ca, {
    dnsNames: ['localhost'],
    ips: ['127.0.0.1'],
  });
  const nodes: FleetNode[] = [];
  let last = t0;
  for (let i = 0; i < count; i++) {
    const keys = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const cert = await issueNodeCertificate(ca, nodeName(i), keys.publicKey);
    nodes.push({ name: nodeName(i), certPem: cert.certPem, keyPem: keys.privateKey });
    if (performance.now() - last > 2000) {
      last = performance.now();
      progress(`  node certificates: ${fmtInt(i + 1)}/${fmtInt(count)}`);
    }
  }
  progress(
    `  ${fmtInt(count)} node keys + certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { ca, serverCertPem: server.certPem, serverKeyPem: server.keyPem, nodes };
}

/** Things to undo at the end, newest first. */
type Cleanup = () => Promise<void> | void;

async function runScale(
  n: number,
  rounds: number,
  warmup: number,
  idleMs: number,
  pki: Pki,
  fleetNodeOptions: readonly string[],
  cleanups: Cleanup[],
): Promise<ScaleResult> {
  progress(`${fmtInt(n)} nodes: building the cluster`);
  const cluster = buildCluster(n);
  const state = cluster.engine.compiled;
  const stateBytes = encodedSize(stateAsDelta(state));
  progress(
    `  ${fmtInt(cluster.pods)} pods, ${fmtInt(state.identities.size)} identities, ${fmtInt(policyEntryCount(state))} policy entries, ${fmtInt(state.ipcache.size)} ipcache entries in ${(cluster.buildMs / 1000).toFixed(1)} s; whole state ${fmtInt(stateBytes / 1024)} KiB encoded`,
  );

  const metrics = new OperatorMetrics({ defaultMetrics: false });
  const d = new BenchDistributor({ metrics });
  d.startTerm();
  d.applyDelta(cluster.initial, state, []);
  d.setReady();
  const ca = pki.ca;
  const server = new DistributionServer({
    address: '127.0.0.1:0',
    caPem: ca.certPem,
    certPem: pki.serverCertPem,
    keyPem: pki.serverKeyPem,
    distributor: d,
    checkPeer: (peer) => checkPeer(ca, peer as PeerCertificate | undefined, Date.now()),
    metrics,
  });
  const port = await server.start();
  let serverStopped = false;
  const stopServer = async (): Promise<void> => {
    if (serverStopped) return;
    serverStopped = true;
    d.endTerm('benchmark done');
    await server.stop(1000);
  };
  cleanups.push(stopServer);

  forceGc();
  await sleep(200);
  const rssBefore = rssMiB();
  const heapBefore = process.memoryUsage().heapUsed / 2 ** 20;

  // The fleet: key material through a file on tmpfs, removed as soon as the child read it.
  const dir = mkdtempSync(
    join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'palisade-dist-bench-'),
  );
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  cleanups.push(removeDir);
  const file = join(dir, 'fleet.json');
  const cfg: FleetConfig = {
    target: `127.0.0.1:${port}`,
    serverName: 'localhost',
    caPem: ca.certPem,
    nodes: pki.nodes.slice(0, n),
    connectConcurrency: 64,
    pingEpoch: PING_EPOCH,
  };
  writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
  progress(`  connecting ${fmtInt(n)} node streams (mutual TLS, Hello, snapshot, ack)`);
  const cpuConnect0 = cpuSeconds();
  const tConnect0 = performance.now();
  const child = fork(fileURLToPath(new URL('./distributionFleet.js', import.meta.url)), [file], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...fleetNodeOptions],
  });
  const fleet = new Fleet(child);
  cleanups.push(() => fleet.close(2000));
  await fleet.next((r) => (r.type === 'loaded' ? true : undefined), 30_000);
  removeDir();

  // Synced: the distributor has the node's ack of its snapshot.
  let lastReport = performance.now();
  for (;;) {
    const synced = d.nodes().filter((x) => x.connected && x.synced).length;
    if (synced === n) break;
    if (fleet.exited) throw new Error('the fleet exited while connecting');
    if (performance.now() - tConnect0 > CONNECT_TIMEOUT_MS)
      throw new Error(`only ${synced}/${n} nodes synced after ${CONNECT_TIMEOUT_MS} ms`);
    if (performance.now() - lastReport > 2000) {
      lastReport = performance.now();
      progress(
        `  streams: ${fmtInt(fleet.lastProgress.opened)} opened, ${fmtInt(synced)}/${fmtInt(n)} synced`,
      );
    }
    await sleep(20);
  }
  const connectMs = performance.now() - tConnect0;
  const connectCpu = cpuSeconds() - cpuConnect0;
  progress(`  ${fmtInt(n)} streams synced in ${(connectMs / 1000).toFixed(1)} s`);

  // Idle: N open streams, nothing to send.
  const cpuIdle0 = cpuSeconds();
  const tIdle0 = performance.now();
  await sleep(idleMs);
  const idleSeconds = (performance.now() - tIdle0) / 1000;
  const idleCpuPercent = ((cpuSeconds() - cpuIdle0) / idleSeconds) * 100;
  forceGc();
  await sleep(200);
  const rssIdle = rssMiB();
  const heapIdle = process.memoryUsage().heapUsed / 2 ** 20;

  // Rounds.
  const rig: Rig = { cluster, d, pingSeq: 0 };
  const all = cluster.nodes;
  const pingAll: PingSample[] = [];
  const pingOne: PingSample[] = [];
  const changeAll: ChangeSample[] = [];
  const changeOne: ChangeSample[] = [];
  const oneExpected: number[] = [];
  progress(`  ${warmup} warm-up + ${rounds} measured rounds`);
  const stopPeak = rssPeakSampler();
  const cpuRounds0 = cpuSeconds();
  const tRounds0 = performance.now();
  let lastRoundReport = performance.now();
  for (let r = 0; r < warmup + rounds; r++) {
    const k = r % 100;
    const oneNodes = all.filter((_, i) => i % 100 === k);
    const allPolicy = roundPolicy(
      `bench-all-r${r}`,
      'everywhere',
      `svc-${(r + 20) % SVC_APPS}`,
      20_000 + r,
    );
    const onePolicy = roundPolicy(`bench-one-r${r}`, rareApp(k), `svc-${r % SVC_APPS}`, 10_000 + r);
    // A-B / B-A: the probe first in even rounds, the change first in odd ones.
    const pingFirst = r % 2 === 0;
    let pa: PingSample;
    let ca1: ChangeSample;
    let po: PingSample;
    let co: ChangeSample;
    // A short pause before each step, so that none starts while the fleet still works on
    // the previous one.
    const step = async <T>(f: () => Promise<T>): Promise<T> => {
      await sleep(STEP_PAUSE_MS);
      return f();
    };
    if (pingFirst) {
      pa = await step(() => ping(rig, all));
      ca1 = await step(() => change(rig, allPolicy));
      po = await step(() => ping(rig, oneNodes));
      co = await step(() => change(rig, onePolicy));
    } else {
      ca1 = await step(() => change(rig, allPolicy));
      pa = await step(() => ping(rig, all));
      co = await step(() => change(rig, onePolicy));
      po = await step(() => ping(rig, oneNodes));
    }
    if (r >= warmup) {
      pingAll.push(pa);
      changeAll.push(ca1);
      pingOne.push(po);
      changeOne.push(co);
      oneExpected.push(oneNodes.length);
    }
    if (performance.now() - lastRoundReport > 3000) {
      lastRoundReport = performance.now();
      progress(
        `  round ${r + 1}/${warmup + rounds}: all nodes ${fmtMs(ca1.propagationMs)} (probe ${fmtMs(pa.ms)}), 1% ${fmtMs(co.propagationMs)} (probe ${fmtMs(po.ms)})`,
      );
    }
  }
  const roundsSeconds = (performance.now() - tRounds0) / 1000;

  // A stuck shim: one node stops reading its stream; every-node changes are measured
  // again on the others, then it reads again and must catch up.
  const stuck = all[0] as string;
  fleet.send({ type: 'stall', node: stuck });
  await sleep(50);
  const stalledRounds: ChangeSample[] = [];
  for (let r = 0; r < Math.max(5, Math.min(rounds, 15)); r++) {
    await sleep(STEP_PAUSE_MS);
    stalledRounds.push(
      await change(
        rig,
        roundPolicy(`bench-stuck-r${r}`, 'everywhere', `svc-${(r + 7) % SVC_APPS}`, 30_000 + r),
        stuck,
      ),
    );
  }
  const behind = rig.d.nodes().find((x) => x.node === stuck);
  const tResume = performance.now();
  fleet.send({ type: 'resume', node: stuck });
  for (;;) {
    const st = rig.d.nodes().find((x) => x.node === stuck);
    if (st && st.acked >= rig.d.revision && st.pending === 0) break;
    if (performance.now() - tResume > ACK_TIMEOUT_MS)
      throw new Error('the stuck node never caught up');
    await sleep(2);
  }
  const stuckResult = {
    others: latencyStats(stalledRounds.map((c) => c.propagationMs)),
    behindBy: behind ? rig.d.revision - behind.acked : 0,
    catchUpMs: performance.now() - tResume,
  };
  const roundsCpuPercent = ((cpuSeconds() - cpuRounds0) / roundsSeconds) * 100;
  const roundsPeak = stopPeak();

  const fleetStats = await fleet.stats();
  const snapshots: Record<string, number> = {};
  for (const v of (await metrics.resyncs.get()).values)
    snapshots[String(v.labels.reason)] = v.value;
  let snapshotBytes = 0;
  for (const v of (await metrics.frameBytes.get()).values)
    if (v.labels.kind === 'snapshot') snapshotBytes = v.value;

  await fleet.close();
  await stopServer();

  const stats = (xs: readonly ChangeSample[], f: (c: ChangeSample) => number): LatencyStats =>
    latencyStats(xs.map(f));
  const perNode = (c: ChangeSample): number => (c.nodesSent > 0 ? c.bytesSent / c.nodesSent : 0);
  return {
    nodes: n,
    rounds,
    warmupRounds: warmup,
    cluster: {
      pods: cluster.pods,
      namespaces: NAMESPACES,
      policies: cluster.policies,
      identities: state.identities.size,
      ipcacheEntries: state.ipcache.size,
      policyEntries: policyEntryCount(state),
      buildMs: cluster.buildMs,
      stateBytes,
    },
    connect: { ms: connectMs, cpuSeconds: connectCpu, snapshotBytes },
    operator: {
      rssBeforeStreamsMiB: rssBefore,
      heapBeforeStreamsMiB: heapBefore,
      rssIdleMiB: rssIdle,
      heapIdleMiB: heapIdle,
      idleSeconds,
      idleCpuPercent,
      roundsSeconds,
      roundsCpuPercent,
      roundsPeakRssMiB: roundsPeak,
    },
    fleet: fleetStats,
    pingAll: latencyStats(pingAll.map((x) => x.ms)),
    changeAll: stats(changeAll, (c) => c.propagationMs),
    pingOne: latencyStats(pingOne.map((x) => x.ms)),
    firstAck: {
      pingAll: median(pingAll.map((x) => x.firstMs)),
      changeAll: median(changeAll.map((c) => c.firstAckMs)),
      pingOne: median(pingOne.map((x) => x.firstMs)),
      changeOne: median(changeOne.map((c) => c.firstAckMs)),
    },
    changeOne: stats(changeOne, (c) => c.propagationMs),
    removalAll: stats(changeAll, (c) => c.removalMs),
    removalOne: stats(changeOne, (c) => c.removalMs),
    splitAll: {
      flushMs: median(changeAll.map((c) => c.flushMs)),
      distributeMs: median(changeAll.map((c) => c.distributeMs)),
    },
    splitOne: {
      flushMs: median(changeOne.map((c) => c.flushMs)),
      distributeMs: median(changeOne.map((c) => c.distributeMs)),
    },
    bytesOne: {
      nodesSent: median(changeOne.map((c) => c.nodesSent)),
      nodesExpected: median(oneExpected),
      bytesPerNode: median(changeOne.map(perNode)),
      bytesTotal: median(changeOne.map((c) => c.bytesSent)),
      fullDeltaBytes: median(changeOne.map((c) => c.fullDeltaBytes)),
      deltaEntries: median(changeOne.map((c) => c.deltaEntries)),
    },
    bytesAll: {
      nodesSent: median(changeAll.map((c) => c.nodesSent)),
      bytesPerNode: median(changeAll.map(perNode)),
      bytesTotal: median(changeAll.map((c) => c.bytesSent)),
      fullDeltaBytes: median(changeAll.map((c) => c.fullDeltaBytes)),
    },
    snapshotsByReason: snapshots,
    stuck: stuckResult,
  };
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  const started = new Date();
  const cleanups: Cleanup[] = [];
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    progress('interrupted: cleaning up');
    void runCleanups(cleanups).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const maxNodes = Math.max(...cfg.scales);
    progress(
      `distribution benchmark: ${cfg.scales.map((n) => fmtInt(n)).join(', ')} nodes${cfg.quick ? ' (quick)' : ''}`,
    );
    progress(`issuing a CA, a server certificate and ${fmtInt(maxNodes)} node certificates`);
    const pki = await makePki(maxNodes);
    const results: ScaleResult[] = [];
    for (const n of cfg.scales) {
      const rounds = cfg.rounds ?? (cfg.quick ? 10 : n >= 1000 ? 30 : 50);
      const warmup = cfg.quick ? 2 : 3;
      const idleMs = cfg.quick ? 2000 : 3000;
      results.push(await runScale(n, rounds, warmup, idleMs, pki, cfg.fleetNodeOptions, cleanups));
      await runCleanups(cleanups);
    }
    const meta = {
      date: started.toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
      quick: cfg.quick,
      durationSeconds: Math.round(performance.now() / 1000),
    };
    if (cfg.json) {
      process.stdout.write(`${JSON.stringify({ meta, results }, null, 2)}\n`);
      return;
    }
    const lines = [
      `Palisade distribution benchmark — ${meta.date}, ${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}, load ${meta.loadAverageAtEnd.join(' ')} at the end, ${meta.durationSeconds} s`,
      'Operator (Distributor + DistributionServer, mutual TLS) in this process; the simulated shims in one child process, one TLS connection and stream each.',
      'Propagation: from just before engine.flush() to the last ack of the revision from every node that was sent a frame.',
      'Baseline (transport floor): the benchmark writes a minimal frame straight to the same streams; each shim decodes it and acks at once.',
      '',
    ];
    for (const s of results) lines.push(...formatScale(s), '');
    lines.push(...formatGoal(results));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await runCleanups(cleanups);
  }
}

async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  while (cleanups.length > 0) {
    const c = cleanups.pop() as Cleanup;
    try {
      await c();
    } catch (err) {
      progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    process.stderr.write(
      `distribution benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
