/**
 * The distributor: revisions, node streams, snapshots, acks and realization, for one
 * operator replica. Transport-free: a stream is a `NodeSession` (the gRPC server adapts
 * its calls to it), so all of this is testable without sockets.
 *
 * - Each leadership term has an `epoch`; its revisions count from 1, one per compiled
 *   delta. A node gets a frame only for revisions that change its view (`NodeViews`);
 *   each frame names the node's previous revision.
 * - Nothing is sent before the term's first compile is complete (`setReady`): a snapshot
 *   of a half-built state would remove entries the node enforces.
 * - A stream whose transport buffer is full queues up to `maxQueuedBytes`; past that its
 *   queue is dropped and it gets a fresh snapshot when it drains. No stream ever waits
 *   for another.
 * - A node is *realized* for a revision when it has acked its snapshot and every frame up
 *   to that revision, and every subject that became local to it since.
 */
import { randomBytes } from 'node:crypto';
import { snapshotChunkFrame, syncedFrame, deltaFrame } from '@palisade/api';
import type { CompiledDelta, CompiledState } from '@palisade/core';
import { NodeViews } from './nodeViews.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';

/** One node's open stream, as the distributor sees it. */
export interface NodeSession {
  /** Writes a frame; false when the transport's buffer is full (then wait for drain). */
  write(frame: Buffer): boolean;
  /** Calls `cb` once when the transport can take more. */
  onDrain(cb: () => void): void;
  /** Ends the stream (the shim reconnects). */
  close(reason: string): void;
}

/** What a Hello says. */
export interface HelloInfo {
  readonly epoch: string;
  readonly revision: number;
}

/** Options of a distributor. */
export interface DistributorOptions {
  readonly logger?: Logger;
  readonly metrics?: OperatorMetrics;
  /** Bytes a blocked stream may queue before it is moved to resync (default 16 MiB). */
  readonly maxQueuedBytes?: number;
  /** Target size of a snapshot chunk (default 1 MiB). */
  readonly chunkBytes?: number;
  /** Clock (ms). */
  readonly now?: () => number;
}

interface Pending {
  readonly revision: number;
  readonly changes: readonly { key: string; seenAt: number }[];
}

interface NodeRecord {
  readonly node: string;
  session: NodeSession | undefined;
  /** Waiting for the term to be ready before its snapshot. */
  waiting: boolean;
  /** The revision of the last frame written (what the node will hold once it read it). */
  lastSent: number;
  acked: number;
  /** Revision of the snapshot in flight, if any. */
  snapshotRevision: number | undefined;
  synced: boolean;
  needsSnapshot: boolean;
  pending: Pending[];
  /** Blocked transport: frames waiting for drain, and their size. */
  queue: Buffer[];
  queuedBytes: number;
  blocked: boolean;
  /** Subject → revision at which it became local. */
  readonly localSince: Map<number, number>;
}

/** Realization of one policy. */
export interface PolicyRealization {
  readonly policy: string;
  readonly nodesRealized: number;
  readonly nodesDesired: number;
  readonly revision: number;
}

/** The distributor of one replica. */
export class Distributor {
  private epochId = '';
  private rev = 0;
  private ready = false;
  private views = new NodeViews();
  private state: CompiledState | undefined;
  private readonly records = new Map<string, NodeRecord>();
  private readonly policyRevision = new Map<string, number>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly maxQueued: number;
  private readonly chunkBytes: number;
  private readonly listeners = new Set<() => void>();
  private active = false;

  constructor(private readonly o: DistributorOptions = {}) {
    this.log = o.logger ?? silentLogger;
    this.now = o.now ?? Date.now;
    this.maxQueued = o.maxQueuedBytes ?? 16 * 1024 * 1024;
    this.chunkBytes = o.chunkBytes ?? 1024 * 1024;
  }

  /** The current epoch ('' when not leading). */
  get epoch(): string {
    return this.epochId;
  }

  /** The current revision. */
  get revision(): number {
    return this.rev;
  }

  /** True while this replica leads and has a term. */
  get leading(): boolean {
    return this.active;
  }

  /** Called on every change of realization (acks, sends, membership). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts a leadership term: a new epoch, an empty view; nothing is served until `setReady`. */
  startTerm(): void {
    this.endTerm('new term');
    this.epochId = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    this.rev = 0;
    this.ready = false;
    this.views = new NodeViews();
    this.state = undefined;
    this.active = true;
    this.o.metrics?.revision.set(0);
    this.log.info('distribution term started', { epoch: this.epochId });
  }

  /** Ends the term: every stream is closed (shims reconnect to the next leader). */
  endTerm(reason: string): void {
    for (const r of this.records.values()) r.session?.close(reason);
    this.records.clear();
    this.policyRevision.clear();
    this.active = false;
    this.ready = false;
    this.epochId = '';
    this.o.metrics?.streams.set(0);
  }

  /** The term's first compile is complete: waiting streams get their snapshots. */
  setReady(): void {
    if (!this.active || this.ready) return;
    this.ready = true;
    for (const r of this.records.values())
      if (r.session && r.waiting) {
        r.waiting = false;
        this.sendSnapshot(r, 'new');
      }
  }

  /** Feeds a compiled delta (`state` is the compiled state after it). */
  applyDelta(
    delta: CompiledDelta,
    state: CompiledState,
    policies: readonly { key: string; seenAt: number }[] = [],
  ): void {
    if (!this.active) return;
    this.state = state;
    const revision = ++this.rev;
    this.o.metrics?.revision.set(revision);
    for (const p of policies) this.policyRevision.set(p.key, revision);
    const change = this.views.apply(delta, state);
    for (const [node, subjects] of change.newSubjects) {
      const r = this.records.get(node);
      if (r) for (const s of subjects) r.localSince.set(s, revision);
    }
    for (const [node, keys] of change.frames) {
      const r = this.records.get(node);
      if (!r) continue;
      if (!r.session || r.waiting) {
        // Not streaming: whatever it held is stale now; it gets a snapshot when it is back.
        if (r.lastSent > 0) r.needsSnapshot = true;
        continue;
      }
      // Moved to resync (too slow): the snapshot it gets when it drains covers this.
      if (r.needsSnapshot) continue;
      // Streaming (possibly with a snapshot in flight: the delta follows it in order).
      this.sendDelta(r, revision, keys, policies);
    }
    this.changed();
  }

  /**
   * A node opened a stream (already authenticated as `node`). Returns a detach function
   * for when the stream ends.
   */
  attach(node: string, hello: HelloInfo, session: NodeSession): () => void {
    let r = this.records.get(node);
    if (r?.session) {
      r.session.close('superseded by a new stream from the same node');
      this.o.metrics?.streams.dec();
    }
    if (!r) {
      r = {
        node,
        session: undefined,
        waiting: false,
        lastSent: 0,
        acked: 0,
        snapshotRevision: undefined,
        synced: false,
        needsSnapshot: false,
        pending: [],
        queue: [],
        queuedBytes: 0,
        blocked: false,
        localSince: new Map(),
      };
      this.records.set(node, r);
    }
    const rec = r;
    rec.session = session;
    rec.queue = [];
    rec.queuedBytes = 0;
    rec.blocked = false;
    this.o.metrics?.streams.inc();
    const canContinue =
      this.ready &&
      hello.epoch === this.epochId &&
      hello.revision === rec.lastSent &&
      rec.lastSent > 0 &&
      !rec.needsSnapshot &&
      rec.snapshotRevision === undefined &&
      rec.pending.length === 0;
    if (canContinue) {
      rec.synced = true;
      rec.acked = Math.max(rec.acked, hello.revision);
      this.log.info('node stream resumed', { node, revision: hello.revision });
    } else if (!this.ready) {
      rec.waiting = true;
      this.log.info('node stream waits for the first compile', { node });
    } else {
      rec.waiting = false;
      this.sendSnapshot(rec, hello.epoch === this.epochId && hello.revision > 0 ? 'gap' : 'new');
    }
    this.changed();
    return () => {
      if (rec.session !== session) return;
      rec.session = undefined;
      rec.waiting = false;
      rec.queue = [];
      rec.queuedBytes = 0;
      // Frames written but not acked may never have arrived.
      if (rec.pending.length > 0 || rec.snapshotRevision !== undefined) rec.needsSnapshot = true;
      rec.snapshotRevision = undefined;
      this.o.metrics?.streams.dec();
      this.changed();
    };
  }

  /** A node acked `revision`. */
  ack(node: string, session: NodeSession, revision: number): void {
    const r = this.records.get(node);
    if (!r || r.session !== session) return;
    if (r.snapshotRevision !== undefined && revision >= r.snapshotRevision) {
      r.snapshotRevision = undefined;
      r.synced = true;
    }
    if (revision > r.acked) r.acked = revision;
    const at = this.now();
    while (r.pending.length > 0 && (r.pending[0] as Pending).revision <= revision) {
      const p = r.pending.shift() as Pending;
      for (const c of p.changes)
        this.o.metrics?.propagationSeconds.observe(Math.max(0, at - c.seenAt) / 1000);
    }
    this.changed();
  }

  /** A node asked for a snapshot. */
  resync(node: string, session: NodeSession, reason: string): void {
    const r = this.records.get(node);
    if (!r || r.session !== session) return;
    this.log.warn('node asked for a resync', { node, reason });
    if (!this.ready) {
      r.waiting = true;
      return;
    }
    this.sendSnapshot(r, 'requested');
  }

  /** Realization of every policy known to this term. */
  realization(policySubjects: (key: string) => readonly number[]): PolicyRealization[] {
    const out: PolicyRealization[] = [];
    for (const [policy, revision] of this.policyRevision) {
      const subjects = policySubjects(policy);
      const nodes = new Set<string>();
      for (const s of subjects) for (const n of this.views.nodesOf(s)) nodes.add(n);
      let realized = 0;
      for (const n of nodes) if (this.realizedOn(n, revision, subjects)) realized++;
      out.push({ policy, nodesRealized: realized, nodesDesired: nodes.size, revision });
    }
    return out;
  }

  /** Forgets a deleted policy. */
  forgetPolicy(key: string): void {
    this.policyRevision.delete(key);
  }

  /** Per-node status (for logs, tests and the benchmark). */
  nodes(): {
    node: string;
    connected: boolean;
    synced: boolean;
    acked: number;
    lastSent: number;
    pending: number;
  }[] {
    return [...this.records.values()].map((r) => ({
      node: r.node,
      connected: r.session !== undefined,
      synced: r.synced && !r.needsSnapshot,
      acked: r.acked,
      lastSent: r.lastSent,
      pending: r.pending.length,
    }));
  }

  private realizedOn(node: string, revision: number, subjects: readonly number[]): boolean {
    const r = this.records.get(node);
    if (!r || !r.synced || r.needsSnapshot || r.snapshotRevision !== undefined) return false;
    const first = r.pending[0];
    if (first && first.revision <= revision) return false;
    for (const s of subjects) {
      if (!this.views.hosts(node, s)) continue;
      const since = r.localSince.get(s) ?? 0;
      if (since > r.acked) return false;
    }
    return true;
  }

  private sendDelta(
    r: NodeRecord,
    revision: number,
    keys: readonly string[],
    changes: readonly { key: string; seenAt: number }[],
  ): void {
    const frame = deltaFrame(
      this.epochId,
      revision,
      r.lastSent,
      keys.map((k) => this.views.piece(k)),
    );
    r.lastSent = revision;
    r.pending.push({ revision, changes });
    this.o.metrics?.frameBytes.inc({ kind: 'delta' }, frame.length);
    this.write(r, frame);
  }

  private sendSnapshot(r: NodeRecord, reason: string): void {
    const session = r.session;
    if (!session) return;
    r.queue = [];
    r.queuedBytes = 0;
    r.pending = [];
    r.needsSnapshot = false;
    r.synced = false;
    const revision = this.rev;
    r.snapshotRevision = revision;
    r.lastSent = revision;
    const frames: Buffer[] = [];
    let chunk: Uint8Array[] = [];
    let size = 0;
    for (const k of this.views.snapshotKeys(r.node)) {
      const p = this.views.piece(k);
      chunk.push(p);
      size += p.length;
      if (size >= this.chunkBytes) {
        frames.push(snapshotChunkFrame(this.epochId, revision, frames.length, chunk));
        chunk = [];
        size = 0;
      }
    }
    if (chunk.length > 0 || frames.length === 0)
      frames.push(snapshotChunkFrame(this.epochId, revision, frames.length, chunk));
    frames.push(syncedFrame(this.epochId, revision, frames.length));
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    this.o.metrics?.resyncs.inc({ reason });
    this.o.metrics?.frameBytes.inc({ kind: 'snapshot' }, bytes);
    this.log.info('snapshot sent', {
      node: r.node,
      reason,
      revision,
      chunks: frames.length - 1,
      bytes,
    });
    // A snapshot is written whatever the buffer: it replaces everything queued before.
    r.blocked = false;
    for (const f of frames) this.write(r, f, true);
  }

  private write(r: NodeRecord, frame: Buffer, force = false): void {
    const session = r.session;
    if (!session) return;
    if (r.blocked && !force) {
      r.queue.push(frame);
      r.queuedBytes += frame.length;
      if (r.queuedBytes > this.maxQueued) {
        this.log.warn('node stream too slow; it will get a snapshot when it reads again', {
          node: r.node,
          queuedBytes: r.queuedBytes,
        });
        r.queue = [];
        r.queuedBytes = 0;
        r.pending = [];
        r.needsSnapshot = true;
      }
      return;
    }
    if (session.write(frame)) return;
    if (r.blocked) return;
    r.blocked = true;
    session.onDrain(() => this.drained(r, session));
  }

  private drained(r: NodeRecord, session: NodeSession): void {
    if (r.session !== session) return;
    r.blocked = false;
    if (r.needsSnapshot) {
      this.sendSnapshot(r, 'slow');
      return;
    }
    const queue = r.queue;
    r.queue = [];
    r.queuedBytes = 0;
    for (const f of queue) this.write(r, f);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
