/**
 * The distribution benchmark's results at one scale and their printed report (the
 * measurement itself is in `distribution.bench.ts`).
 */
import { fmtInt, fmtMs, fmtRatio, type LatencyStats } from './benchKit.js';
import type { FleetStats } from './distributionFleet.js';

/** Everything measured at one scale. */
export interface ScaleResult {
  /** One node stops reading: the others' every-node propagation, and its catch-up. */
  readonly stuck: {
    readonly others: LatencyStats;
    readonly behindBy: number;
    readonly catchUpMs: number;
  };
  readonly nodes: number;
  readonly rounds: number;
  readonly warmupRounds: number;
  readonly cluster: {
    readonly pods: number;
    readonly namespaces: number;
    readonly policies: number;
    readonly identities: number;
    readonly ipcacheEntries: number;
    readonly policyEntries: number;
    readonly buildMs: number;
    /** The whole compiled state encoded as one StateChange. */
    readonly stateBytes: number;
  };
  readonly connect: {
    readonly ms: number;
    readonly cpuSeconds: number;
    /** Snapshot bytes written (all nodes), from the distributor's counter. */
    readonly snapshotBytes: number;
  };
  readonly operator: {
    readonly rssBeforeStreamsMiB: number;
    readonly heapBeforeStreamsMiB: number;
    readonly rssIdleMiB: number;
    readonly heapIdleMiB: number;
    readonly idleSeconds: number;
    readonly idleCpuPercent: number;
    readonly roundsSeconds: number;
    readonly roundsCpuPercent: number;
    readonly roundsPeakRssMiB: number;
  };
  readonly fleet: FleetStats;
  readonly pingAll: LatencyStats;
  /** Medians of t0 → the first ack. */
  readonly firstAck: {
    readonly pingAll: number;
    readonly changeAll: number;
    readonly pingOne: number;
    readonly changeOne: number;
  };
  readonly changeAll: LatencyStats;
  readonly pingOne: LatencyStats;
  readonly changeOne: LatencyStats;
  readonly removalAll: LatencyStats;
  readonly removalOne: LatencyStats;
  readonly splitAll: { readonly flushMs: number; readonly distributeMs: number };
  readonly splitOne: { readonly flushMs: number; readonly distributeMs: number };
  readonly bytesOne: {
    readonly nodesSent: number;
    readonly nodesExpected: number;
    readonly bytesPerNode: number;
    readonly bytesTotal: number;
    readonly fullDeltaBytes: number;
    readonly deltaEntries: number;
  };
  readonly bytesAll: {
    readonly nodesSent: number;
    readonly bytesPerNode: number;
    readonly bytesTotal: number;
    readonly fullDeltaBytes: number;
  };
  readonly snapshotsByReason: Record<string, number>;
}

// ---- report ---------------------------------------------------------------------------

function fmtBytes(b: number): string {
  if (b < 10 * 1024) return `${fmtInt(b)} B`;
  if (b < 10 * 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 2 ** 20).toFixed(1)} MiB`;
}

/** A ratio as `0.42×`, or as `1/19,800` when it is below 1%. */
function fmtShare(r: number): string {
  return r > 0 && r < 0.01 ? `1/${fmtInt(1 / r)}` : fmtRatio(r);
}

function fmtUs(ms: number): string {
  return `${(ms * 1000).toFixed(0)} µs`;
}

function statsCells(s: LatencyStats): string {
  return `${fmtMs(s.p50).padStart(9)} ${fmtMs(s.p99).padStart(9)} ${fmtMs(s.max).padStart(9)}`;
}

export function formatScale(s: ScaleResult): string[] {
  const n = s.nodes;
  const c = s.cluster;
  const o = s.operator;
  const f = s.fleet;
  const row = (what: string, st: LatencyStats, base?: LatencyStats): string =>
    `  ${what.padEnd(58)} ${statsCells(st)}${base ? `   ${fmtRatio(st.p50 / base.p50).padStart(6)} ${fmtRatio(st.p99 / base.p99).padStart(6)}` : ''}`;
  const b1 = s.bytesOne;
  const ba = s.bytesAll;
  const everything = c.stateBytes * n;
  const broadcast = b1.fullDeltaBytes * n;
  const lines = [
    `${fmtInt(n)} nodes — ${fmtInt(c.pods)} pods in ${c.namespaces} namespaces, ${fmtInt(c.policies)} background policies: ${fmtInt(c.identities)} identities, ${fmtInt(c.policyEntries)} policy entries, ${fmtInt(c.ipcacheEntries)} ipcache entries (whole state ${fmtBytes(c.stateBytes)} encoded); ${s.rounds} rounds after ${s.warmupRounds} warm-up${s.rounds <= 100 ? ' (at this count the nearest-rank p99 is the max)' : ''}`,
    '',
    `  ${''.padEnd(58)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)}   ${'vs baseline p50 / p99'}`,
    row(`baseline: probe frame to all ${fmtInt(n)} streams → last ack`, s.pingAll),
    row(`policy on every node: change → last ack`, s.changeAll, s.pingAll),
    row(`  its removal: change → last ack`, s.removalAll, s.pingAll),
    row(`  same, with one node's shim not reading: the other nodes`, s.stuck.others, s.changeAll),
    `  ${''.padEnd(58)} (ratio vs the every-node change above; the stuck node was ${s.stuck.behindBy} revisions behind and caught up ${fmtMs(s.stuck.catchUpMs)} after it read again)`,
    row(
      `baseline: probe frame to ${b1.nodesExpected === 1 ? 'that stream' : `those ${fmtInt(b1.nodesExpected)} streams`} → last ack`,
      s.pingOne,
    ),
    row(`policy on 1% of the nodes: change → last ack`, s.changeOne, s.pingOne),
    row(`  its removal: change → last ack`, s.removalOne, s.pingOne),
    `  split, p50: every node: flush ${fmtMs(s.splitAll.flushMs)}, split + encode + write ${fmtMs(s.splitAll.distributeMs)}; 1%: flush ${fmtMs(s.splitOne.flushMs)}, split + encode + write ${fmtMs(s.splitOne.distributeMs)}`,
    `  first ack, p50: every node ${fmtMs(s.firstAck.changeAll)} (probe ${fmtMs(s.firstAck.pingAll)}); 1% ${fmtMs(s.firstAck.changeOne)} (probe ${fmtMs(s.firstAck.pingOne)})`,
    `  fleet work per Delta frame (all simulated shims share one process and one core): decode ${fmtUs(f.deltaDecodeMs / f.deltas)}, fromWireChange ${fmtUs(f.deltaConvertMs / f.deltas)}, applyDelta ${fmtUs(f.deltaApplyMs / f.deltas)}; per probe ${fmtUs(f.pingMs / Math.max(1, f.pings))}; × ${fmtInt(n)} nodes = ${fmtMs(((f.deltaDecodeMs + f.deltaConvertMs + f.deltaApplyMs) / f.deltas) * n)} of serial work per every-node change`,
    '',
    `  bytes, 1% change (${fmtInt(b1.deltaEntries)} entries in the compiled delta): ${fmtInt(b1.nodesSent)} nodes sent a frame (expected ${fmtInt(b1.nodesExpected)}), ${fmtBytes(b1.bytesPerNode)} per node, ${fmtBytes(b1.bytesTotal)} in total`,
    `    vs the whole delta to all ${fmtInt(n)} nodes: ${fmtBytes(broadcast)} (${fmtRatio(b1.bytesTotal / broadcast)}); vs the whole state to all: ${fmtBytes(everything)} (${fmtShare(b1.bytesTotal / everything)})`,
    `  bytes, every-node change: ${fmtInt(ba.nodesSent)} nodes, ${fmtBytes(ba.bytesPerNode)} per node, ${fmtBytes(ba.bytesTotal)} in total; the whole delta to all: ${fmtBytes(ba.fullDeltaBytes * n)} (${fmtRatio(ba.bytesTotal / (ba.fullDeltaBytes * n))}); the whole state to all: ${fmtBytes(everything)} (${fmtShare(ba.bytesTotal / everything)})`,
    `    (a node's frame also carries the ipcache entries and identities the new rule makes visible to it, which are not in the compiled delta: a design that broadcasts deltas keeps the whole ipcache on every node instead)`,
    `  initial snapshots: ${fmtBytes(s.connect.snapshotBytes / n)} per node on average vs the whole state ${fmtBytes(c.stateBytes)} (${fmtRatio(s.connect.snapshotBytes / n / c.stateBytes)})`,
    '',
    `  connect: ${fmtInt(n)} streams (TLS handshake + checkPeer + Hello + snapshot + ack, 64 at a time) in ${(s.connect.ms / 1000).toFixed(1)} s, operator CPU ${s.connect.cpuSeconds.toFixed(2)} s`,
    `  operator process: RSS ${o.rssBeforeStreamsMiB.toFixed(0)} MiB before the streams (heap ${o.heapBeforeStreamsMiB.toFixed(0)}) → ${o.rssIdleMiB.toFixed(0)} MiB with ${fmtInt(n)} idle streams (+${(o.rssIdleMiB - o.rssBeforeStreamsMiB).toFixed(0)} MiB, ${fmtRatio(o.rssIdleMiB / o.rssBeforeStreamsMiB)}; heap ${o.heapIdleMiB.toFixed(0)}); peak during the rounds ${o.roundsPeakRssMiB.toFixed(0)} MiB`,
    `  operator CPU: idle with ${fmtInt(n)} streams ${o.idleCpuPercent.toFixed(1)}% of a core (${o.idleSeconds.toFixed(0)} s); during the rounds ${o.roundsCpuPercent.toFixed(0)}% (${o.roundsSeconds.toFixed(1)} s)`,
    `  fleet process: RSS ${f.rssMiB.toFixed(0)} MiB, CPU ${f.cpuSeconds.toFixed(1)} s; ${fmtInt(f.frames)} frames / ${fmtBytes(f.frameBytes)} received, ${fmtInt(f.acks)} acks, ${f.resyncs} resyncs, ${f.streamsEnded} streams ended; ${fmtInt(f.heldEntries)} entries held over all nodes`,
    `  snapshots sent by reason: ${JSON.stringify(s.snapshotsByReason)}`,
  ];
  for (const p of f.problems.slice(0, 5)) lines.push(`    fleet: ${p}`);
  return lines;
}

export function formatGoal(results: readonly ScaleResult[]): string[] {
  const out = ['Goal (design §9): policy change → applied on every node, 1,000 nodes: p99 ≤ 1 s'];
  for (const s of results) {
    const worst = Math.max(s.changeAll.p99, s.changeOne.p99);
    const verdict = s.nodes === 1000 ? (worst <= 1000 ? 'met' : 'NOT met') : 'reference';
    out.push(
      `  ${fmtInt(s.nodes).padStart(5)} nodes: p99 ${fmtMs(s.changeAll.p99)} (every node), ${fmtMs(s.changeOne.p99)} (1%) — ${verdict}`,
    );
  }
  return out;
}
