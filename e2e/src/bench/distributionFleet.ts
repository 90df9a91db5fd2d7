/**
 * The simulated node fleet of the distribution benchmark, run as a child process of
 * `distribution.bench.ts` (`child_process.fork`): one gRPC channel and one
 * `Distribution/Subscribe` stream per node, each over mutual TLS with the node's own
 * client certificate, each holding the node's compiled state the way a shim does
 * (snapshot chunks assembled into an empty state, then deltas applied to it with
 * `fromWireChange` + `applyDelta`) and acking every `Synced` and `Delta` revision right
 * after decoding and applying it. There is no kernel: the ack stands for "applied".
 *
 *   node e2e/dist/bench/distributionFleet.js <config.json>
 *
 * The config file (written by the parent under /dev/shm, holding every node's private key)
 * is read once at start; the parent removes it as soon as the child reports `loaded`.
 *
 * A Delta whose epoch is the config's `pingEpoch` is the benchmark's transport probe: it is
 * decoded like any frame, not applied, and acked at once with its own revision.
 *
 * The parent imports only this module's types (importing it would run the fleet).
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  decodeOperatorMessage,
  distributionService,
  fromWireChange,
  SUBSCRIBE_PATH,
  type NodeMessage,
  type OperatorMessage__Output,
} from '@palisade/api';
import { applyDelta, emptyState, type CompiledState } from '@palisade/core';

/** One node's TLS material. */
export interface FleetNode {
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** What the parent writes to the config file. */
export interface FleetConfig {
  /** `127.0.0.1:<port>`. */
  readonly target: string;
  /** The name checked in the server certificate (and sent as SNI). */
  readonly serverName: string;
  readonly caPem: string;
  readonly nodes: readonly FleetNode[];
  /** Streams opened at a time while connecting (each waits for its `Synced`). */
  readonly connectConcurrency: number;
  /** Epoch of the parent's probe frames (never a real epoch: those are `<base36>-<hex>`). */
  readonly pingEpoch: string;
}

/** Counters of the fleet, for the report and for checking the run. */
export interface FleetStats {
  readonly nodes: number;
  /** Streams opened (Hello sent). */
  readonly opened: number;
  /** Nodes holding a state (their first `Synced` arrived). */
  readonly synced: number;
  readonly frames: number;
  /** Bytes of frames received (message payloads, without gRPC / HTTP/2 / TLS framing). */
  readonly frameBytes: number;
  readonly snapshots: number;
  readonly deltas: number;
  readonly pings: number;
  readonly acks: number;
  /** Resyncs asked for (gap, wrong epoch, bad frame): 0 in a healthy run. */
  readonly resyncs: number;
  /** Streams that ended with a status while the fleet was running. */
  readonly streamsEnded: number;
  /** The first few reasons of resyncs and ended streams. */
  readonly problems: readonly string[];
  /** Time spent on Delta frames (not probes): decoding, `fromWireChange`, `applyDelta`, ms. */
  readonly deltaDecodeMs: number;
  readonly deltaConvertMs: number;
  readonly deltaApplyMs: number;
  /** Time spent on probe frames (decode + ack), ms. */
  readonly pingMs: number;
  /** Entries held, summed over nodes (policy + ipcache + identities + endpoints). */
  readonly heldEntries: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly cpuSeconds: number;
}

/** Messages from the fleet to the parent. */
export type FleetReport =
  | { readonly type: 'loaded'; readonly nodes: number }
  | { readonly type: 'progress'; readonly opened: number; readonly synced: number }
  | { readonly type: 'stats'; readonly stats: FleetStats }
  | { readonly type: 'failed'; readonly message: string };

/** Messages from the parent to the fleet. */
export type FleetCommand =
  | { readonly type: 'stats' }
  | { readonly type: 'close' }
  /** The node's shim stops reading its stream (a stuck shim), or reads again. */
  | { readonly type: 'stall' | 'resume'; readonly node: string };

interface Assembly {
  readonly epoch: string;
  readonly revision: number;
  next: number;
  readonly state: CompiledState;
}

interface SimNode {
  readonly name: string;
  readonly client: grpc.Client;
  call: grpc.ClientDuplexStream<NodeMessage, Buffer> | undefined;
  epoch: string;
  revision: number;
  state: CompiledState | undefined;
  assembly: Assembly | undefined;
  onSynced: (() => void) | undefined;
}

const counters = {
  opened: 0,
  synced: 0,
  frames: 0,
  frameBytes: 0,
  snapshots: 0,
  deltas: 0,
  pings: 0,
  acks: 0,
  resyncs: 0,
  streamsEnded: 0,
  deltaDecodeMs: 0,
  deltaConvertMs: 0,
  deltaApplyMs: 0,
  pingMs: 0,
};
const problems: string[] = [];
let closing = false;
let pingEpoch = '';

function send(r: FleetReport): void {
  process.send?.(r);
}

function problem(what: string): void {
  if (problems.length < 10) problems.push(what);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Channel options of a simulated shim: the shim's keepalives, no frame size limit to speak of. */
function channelOptions(serverName: string): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 1024 * 1024 * 1024,
    'grpc.ssl_target_name_override': serverName,
    'grpc.default_authority': serverName,
    // One connection per node, as with real shims on separate machines.
    'grpc.use_local_subchannel_pool': 1,
  };
}

const subscribe = distributionService()['Subscribe'];
if (!subscribe) throw new Error('the Distribution service has no Subscribe');
const serialize = (m: NodeMessage): Buffer => subscribe.requestSerialize(m);

function write(n: SimNode, m: NodeMessage): void {
  n.call?.write(m);
}

function ack(n: SimNode, revision: number): void {
  counters.acks++;
  write(n, { ack: { revision, appliedAtUnixMs: Date.now() } });
}

function resync(n: SimNode, reason: string): void {
  counters.resyncs++;
  problem(`${n.name}: resync: ${reason}`);
  n.assembly = undefined;
  write(n, { resync: { reason } });
}

function receive(n: SimNode, frame: Buffer): void {
  counters.frames++;
  counters.frameBytes += frame.length;
  const t0 = performance.now();
  let m: OperatorMessage__Output;
  try {
    m = decodeOperatorMessage(frame);
  } catch (e) {
    resync(n, `undecodable frame: ${errorText(e)}`);
    return;
  }
  const t1 = performance.now();
  switch (m.body) {
    case 'snapshot': {
      const c = m.snapshot;
      if (!c) return resync(n, 'snapshot: missing');
      if (c.index === 0) {
        n.assembly = { epoch: c.epoch, revision: c.revision, next: 0, state: emptyState() };
      }
      const a = n.assembly;
      if (!a || a.epoch !== c.epoch || a.revision !== c.revision || a.next !== c.index)
        return resync(n, `snapshot chunk ${c.index} out of order`);
      applyDelta(a.state, fromWireChange(c.state));
      a.next++;
      return;
    }
    case 'synced': {
      const s = m.synced;
      const a = n.assembly;
      if (!s || !a || a.epoch !== s.epoch || a.revision !== s.revision || a.next !== s.chunks)
        return resync(n, 'synced without its chunks');
      counters.snapshots++;
      n.assembly = undefined;
      n.state = a.state;
      n.epoch = a.epoch;
      n.revision = a.revision;
      ack(n, a.revision);
      const cb = n.onSynced;
      n.onSynced = undefined;
      cb?.();
      return;
    }
    case 'delta': {
      const d = m.delta;
      if (!d) return resync(n, 'delta: missing');
      if (d.epoch === pingEpoch) {
        counters.pings++;
        ack(n, d.revision);
        counters.pingMs += performance.now() - t0;
        return;
      }
      if (!n.state) return; // waiting for a snapshot: deltas are ignored, as a shim does
      if (d.epoch !== n.epoch || d.previousRevision !== n.revision)
        return resync(n, `delta ${d.previousRevision}→${d.revision} on ${n.revision}`);
      const change = fromWireChange(d.change);
      const t2 = performance.now();
      applyDelta(n.state, change);
      const t3 = performance.now();
      n.revision = d.revision;
      counters.deltas++;
      counters.deltaDecodeMs += t1 - t0;
      counters.deltaConvertMs += t2 - t1;
      counters.deltaApplyMs += t3 - t2;
      ack(n, d.revision);
      return;
    }
    case undefined:
      return resync(n, 'frame without a body');
  }
}

/** Opens the node's stream and resolves when its first snapshot is applied and acked. */
function open(n: SimNode): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const call = n.client.makeBidiStreamRequest<NodeMessage, Buffer>(
      SUBSCRIBE_PATH,
      serialize,
      (b) => b,
    );
    n.call = call;
    n.onSynced = resolve;
    counters.opened++;
    call.on('data', (frame: Buffer) => receive(n, frame));
    call.on('error', () => {
      // Followed by `status`.
    });
    call.on('status', (s: grpc.StatusObject) => {
      if (closing) return;
      counters.streamsEnded++;
      problem(`${n.name}: stream ended: ${grpc.status[s.code] ?? s.code}: ${s.details}`);
      n.call = undefined;
      if (n.onSynced) {
        n.onSynced = undefined;
        reject(new Error(`${n.name}: stream ended before its snapshot: ${s.details}`));
      }
    });
    write(n, { hello: { node: n.name, epoch: '', revision: 0, capabilities: [] } });
  });
}

function heldEntries(nodes: readonly SimNode[]): number {
  let total = 0;
  for (const n of nodes) {
    const s = n.state;
    if (!s) continue;
    total += s.identities.size + s.ipcache.size + s.endpoints.size;
    for (const g of s.policy.values()) total += g.size;
  }
  return total;
}

function stats(nodes: readonly SimNode[]): FleetStats {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    nodes: nodes.length,
    ...counters,
    problems: [...problems],
    heldEntries: heldEntries(nodes),
    rssMiB: mem.rss / 2 ** 20,
    heapUsedMiB: mem.heapUsed / 2 ** 20,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: distributionFleet.js <config.json>');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as FleetConfig;
  pingEpoch = cfg.pingEpoch;
  send({ type: 'loaded', nodes: cfg.nodes.length });
  const ca = Buffer.from(cfg.caPem);
  const options = channelOptions(cfg.serverName);
  const nodes: SimNode[] = cfg.nodes.map((t) => ({
    name: t.name,
    client: new grpc.Client(
      cfg.target,
      grpc.credentials.createSsl(ca, Buffer.from(t.keyPem), Buffer.from(t.certPem)),
      options,
    ),
    call: undefined,
    epoch: '',
    revision: 0,
    state: undefined,
    assembly: undefined,
    onSynced: undefined,
  }));
  process.on('message', (c: FleetCommand) => {
    switch (c.type) {
      case 'stats':
        send({ type: 'stats', stats: stats(nodes) });
        return;
      case 'stall':
      case 'resume': {
        const n = nodes.find((x) => x.name === c.node);
        if (c.type === 'stall') n?.call?.pause();
        else n?.call?.resume();
        return;
      }
      case 'close':
        closing = true;
        for (const n of nodes) {
          n.call?.cancel();
          n.client.close();
        }
        process.disconnect();
        return;
    }
  });
  const timer = setInterval(
    () => send({ type: 'progress', opened: counters.opened, synced: counters.synced }),
    1000,
  );
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < nodes.length) {
      const n = nodes[next++] as SimNode;
      await open(n);
      counters.synced++;
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(cfg.connectConcurrency, nodes.length) }, () => worker()),
    );
  } finally {
    clearInterval(timer);
  }
  send({ type: 'progress', opened: counters.opened, synced: counters.synced });
}

main().catch((e: unknown) => {
  send({ type: 'failed', message: errorText(e) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
