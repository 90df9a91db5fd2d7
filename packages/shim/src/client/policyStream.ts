/**
 * The shim's side of `palisade.v1.Distribution/Subscribe` as a state machine: it turns
 * the operator's frames into compiled states for the kernel, and answers with acks and
 * resyncs. It knows nothing of gRPC or BPF: frames come in through `receive`, messages
 * go out through the `send` given to `open`, and the kernel is an `apply` function.
 *
 * Invariants:
 * - The kernel only ever gets a whole state: a snapshot once its `Synced` arrived with
 *   every chunk in order, or the held state plus a delta whose epoch is the held epoch and
 *   whose `previousRevision` is the held revision. Nothing from a frame that failed to
 *   decode or convert is ever applied.
 * - A revision is acked only after `apply` returned.
 * - A gap, an unknown epoch, a malformed frame or out-of-order chunks send `Resync` and
 *   keep the kernel as it is; until a snapshot completes, deltas are ignored.
 * - When `apply` throws, the held state is dropped (the kernel's content is no longer
 *   known to be any revision), nothing is acked, and a `Resync` is sent after a backoff.
 * - `receive` never throws.
 */
import { applyDelta, emptyState, type CompiledDelta, type CompiledState } from '@palisade/core';
import {
  decodeOperatorMessage,
  fromWireChange,
  type Delta__Output,
  type NodeMessage,
  type OperatorMessage__Output,
  type SnapshotChunk__Output,
  type StateChange__Output,
  type Synced__Output,
} from '@palisade/api';
import type { Logger } from '../log.js';
import { Backoff } from '@palisade/core';
import { systemClock, type Clock, type Timer } from './clock.js';

/** Options of a policy stream. */
export interface PolicyStreamOptions {
  /** This node's name (sent in `Hello`; the operator checks it against the certificate). */
  readonly node: string;
  /**
   * Makes the kernel enforce `state` (the shim's `setState`: a diff against the kernel).
   * Throws when it cannot; the stream then acks nothing and asks for a snapshot again.
   * The stream keeps the object it passes and changes it in place for the next delta, so
   * `apply` must not keep its own copy beyond the next call.
   */
  readonly apply: (state: CompiledState) => void;
  readonly log: Logger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Delay before asking again after a failed apply (default 200 ms → 30 s, jittered). */
  readonly retryBackoff?: Backoff;
  /** Sent in `Hello` (informational). */
  readonly capabilities?: readonly string[];
}

/** Writes one message on the current stream. May throw when the stream is gone. */
export type SendNodeMessage = (m: NodeMessage) => void;

/** What a policy stream reports in the shim's status. */
export interface PolicyStreamStatus {
  /** Epoch and revision of the state in the kernel (`''` / 0: none known). */
  readonly epoch: string;
  readonly revision: number;
  /** True when it holds a state and applies deltas; false while it waits for a snapshot. */
  readonly synced: boolean;
  readonly acks: number;
  /** When the last ack was sent (ISO 8601). */
  readonly lastAckAt?: string;
  readonly resyncs: number;
  readonly lastResync?: { readonly at: string; readonly reason: string };
  /** Applies that threw (the kernel kept what it had). */
  readonly applyFailures: number;
  readonly lastApplyError?: string;
  /** Frames refused: undecodable, invalid fields, out of order, gaps. */
  readonly badFrames: number;
  /** Frames skipped while waiting for a snapshot (deltas, pieces of an abandoned snapshot). */
  readonly ignoredFrames: number;
}

interface Held {
  readonly epoch: string;
  revision: number;
  readonly state: CompiledState;
}

interface Assembly {
  readonly epoch: string;
  readonly revision: number;
  /** The index the next chunk must have (= chunks received). */
  next: number;
  readonly state: CompiledState;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * What an epoch may look like: 1–128 printable ASCII characters. The protocol does not
 * say more, but this refuses the bytes of another message that happen to decode as a
 * valid frame (a stray `Ack` parses as a `Synced` of no chunks with epoch "\x10\x01").
 */
const EPOCH = /^[\x21-\x7e]{1,128}$/;

/** A header field that makes a frame unusable, or undefined. */
function headerProblem(epoch: string, revisions: Record<string, number>): string | undefined {
  if (!EPOCH.test(epoch)) return `epoch: not 1-128 printable characters: ${JSON.stringify(epoch)}`;
  for (const [field, r] of Object.entries(revisions))
    if (!Number.isSafeInteger(r) || r < 0) return `${field}: out of range: ${r}`;
  return undefined;
}

/** The distribution protocol's state machine for one node (lives across reconnects). */
export class PolicyStream {
  private held: Held | undefined;
  /** Waiting for a snapshot: deltas are ignored. */
  private waiting = true;
  private assembly: Assembly | undefined;
  private send: SendNodeMessage | undefined;
  private retryTimer: Timer | undefined;
  private readonly clock: Clock;
  private readonly retryBackoff: Backoff;
  private acks = 0;
  private lastAckAt: number | undefined;
  private resyncs = 0;
  private lastResync: { at: number; reason: string } | undefined;
  private applyFailures = 0;
  private lastApplyError: string | undefined;
  private badFrames = 0;
  private ignoredFrames = 0;

  constructor(private readonly o: PolicyStreamOptions) {
    this.clock = o.clock ?? systemClock;
    this.retryBackoff = o.retryBackoff ?? new Backoff();
  }

  /**
   * A new stream is open: sends `Hello` with the held epoch and revision (none after a
   * failed apply or before the first snapshot). The operator answers with a snapshot or
   * with the deltas after that revision.
   */
  open(send: SendNodeMessage): void {
    this.send = send;
    this.assembly = undefined;
    this.waiting = this.held === undefined;
    this.cancelRetry();
    this.emit({
      hello: {
        node: this.o.node,
        epoch: this.held?.epoch ?? '',
        revision: this.held?.revision ?? 0,
        capabilities: [...(this.o.capabilities ?? [])],
      },
    });
  }

  /**
   * The stream ended. Frames still buffered may arrive and are applied, but nothing more
   * is sent; the held state (and the kernel) stay as they are.
   */
  close(): void {
    this.send = undefined;
    this.assembly = undefined;
    this.cancelRetry();
  }

  /** True while a stream is open. */
  get isOpen(): boolean {
    return this.send !== undefined;
  }

  /** Handles one frame from the operator. Never throws. */
  receive(frame: Uint8Array): void {
    try {
      this.handle(frame);
    } catch (e) {
      // Not a frame's fault (those are handled below): keep the kernel, ask again.
      this.o.log.error('distribution: unexpected error while handling a frame', {
        error: message(e),
      });
      this.resync(`internal error: ${message(e)}`);
    }
  }

  /** The stream's state for the shim's status. */
  status(): PolicyStreamStatus {
    const iso = (ms: number): string => new Date(ms).toISOString();
    return {
      epoch: this.held?.epoch ?? '',
      revision: this.held?.revision ?? 0,
      synced: this.held !== undefined && !this.waiting,
      acks: this.acks,
      ...(this.lastAckAt !== undefined ? { lastAckAt: iso(this.lastAckAt) } : {}),
      resyncs: this.resyncs,
      ...(this.lastResync
        ? { lastResync: { at: iso(this.lastResync.at), reason: this.lastResync.reason } }
        : {}),
      applyFailures: this.applyFailures,
      ...(this.lastApplyError !== undefined ? { lastApplyError: this.lastApplyError } : {}),
      badFrames: this.badFrames,
      ignoredFrames: this.ignoredFrames,
    };
  }

  private handle(frame: Uint8Array): void {
    let m: OperatorMessage__Output;
    try {
      m = decodeOperatorMessage(frame);
    } catch (e) {
      this.refuse(`undecodable frame: ${message(e)}`);
      return;
    }
    switch (m.body) {
      case 'snapshot':
        return m.snapshot ? this.onChunk(m.snapshot) : this.refuse('snapshot: missing');
      case 'synced':
        return m.synced ? this.onSynced(m.synced) : this.refuse('synced: missing');
      case 'delta':
        return m.delta ? this.onDelta(m.delta) : this.refuse('delta: missing');
      case undefined:
        return this.refuse('frame without a body');
    }
  }

  private onChunk(c: SnapshotChunk__Output): void {
    const problem = headerProblem(c.epoch, { 'snapshot.revision': c.revision });
    if (problem) return this.refuse(`snapshot chunk ${c.index}: ${problem}`);
    if (c.index === 0) {
      // A new snapshot, whether asked for or not: it replaces any unfinished one.
      const state = emptyState();
      this.assembly = undefined;
      if (!this.addChunk(state, c)) return;
      this.assembly = { epoch: c.epoch, revision: c.revision, next: 1, state };
      return;
    }
    const a = this.assembly;
    if (!a) {
      // After a refused snapshot, its remaining chunks are expected: skip them.
      if (this.waiting) return this.ignore();
      return this.refuse(`snapshot chunk ${c.index} without chunk 0`);
    }
    if (c.epoch !== a.epoch || c.revision !== a.revision)
      return this.refuse(
        `snapshot chunk ${c.index} of ${c.epoch}/${c.revision} inside snapshot ${a.epoch}/${a.revision}`,
      );
    if (c.index !== a.next)
      return this.refuse(`snapshot chunk ${c.index} out of order (expected ${a.next})`);
    if (!this.addChunk(a.state, c)) return;
    a.next++;
  }

  /** Adds a chunk's change to a snapshot being assembled; false (and a resync) when refused. */
  private addChunk(state: CompiledState, c: SnapshotChunk__Output): boolean {
    const delta = this.convert(`snapshot chunk ${c.index}`, c.state);
    if (!delta) return false;
    applyDelta(state, delta);
    return true;
  }

  private onSynced(s: Synced__Output): void {
    const problem = headerProblem(s.epoch, { 'synced.revision': s.revision });
    if (problem) return this.refuse(`synced: ${problem}`);
    const a = this.assembly;
    this.assembly = undefined;
    if (!a) {
      if (s.chunks === 0) return this.install(s.epoch, s.revision, emptyState());
      if (this.waiting) return this.ignore();
      return this.refuse(`synced ${s.epoch}/${s.revision} without a snapshot`);
    }
    if (s.epoch !== a.epoch || s.revision !== a.revision || s.chunks !== a.next)
      return this.refuse(
        `synced ${s.epoch}/${s.revision} with ${s.chunks} chunks ends snapshot ${a.epoch}/${a.revision} of ${a.next}`,
      );
    this.install(a.epoch, a.revision, a.state);
  }

  private onDelta(d: Delta__Output): void {
    const problem = headerProblem(d.epoch, {
      'delta.revision': d.revision,
      'delta.previousRevision': d.previousRevision,
    });
    if (problem) return this.refuse(`delta: ${problem}`);
    const held = this.held;
    if (this.waiting || this.assembly || !held) return this.ignore();
    if (d.revision <= d.previousRevision)
      return this.refuse(`delta ${d.revision} does not follow its previous ${d.previousRevision}`);
    if (d.epoch !== held.epoch)
      return this.refuse(`delta of epoch ${d.epoch}, the state is of epoch ${held.epoch}`);
    if (d.previousRevision !== held.revision)
      return this.refuse(
        `gap: delta ${d.revision} follows ${d.previousRevision}, the state is at ${held.revision}`,
      );
    const delta = this.convert(`delta ${d.revision}`, d.change);
    if (!delta) return;
    // In place: copying the whole state per delta would cost more than the change.
    applyDelta(held.state, delta);
    if (!this.tryApply(held.state)) return;
    held.revision = d.revision;
    this.ack(d.revision);
  }

  private install(epoch: string, revision: number, state: CompiledState): void {
    if (!this.tryApply(state)) return;
    this.held = { epoch, revision, state };
    this.waiting = false;
    this.retryBackoff.reset();
    this.cancelRetry();
    this.o.log.info('distribution: snapshot applied', { epoch, revision });
    this.ack(revision);
  }

  private tryApply(state: CompiledState): boolean {
    try {
      this.o.apply(state);
      return true;
    } catch (e) {
      this.applyFailures++;
      this.lastApplyError = message(e);
      // The held state may have taken the delta, and a kernel error may have written
      // part of it: no revision describes the kernel any more. Ask for a snapshot.
      this.held = undefined;
      this.waiting = true;
      this.assembly = undefined;
      const delay = this.retryBackoff.next();
      this.o.log.error('distribution: apply failed; the kernel keeps what it had', {
        error: this.lastApplyError,
        failures: this.applyFailures,
        retryInMs: delay,
      });
      if (!this.retryTimer)
        this.retryTimer = this.clock.schedule(() => {
          this.retryTimer = undefined;
          this.resync(`apply failed: ${this.lastApplyError ?? ''}`);
        }, delay);
      return false;
    }
  }

  private convert(what: string, change: StateChange__Output | null): CompiledDelta | undefined {
    try {
      return fromWireChange(change);
    } catch (e) {
      this.refuse(`${what}: ${message(e)}`);
      return undefined;
    }
  }

  private refuse(reason: string): void {
    this.badFrames++;
    this.o.log.warn('distribution: frame refused', { reason });
    this.resync(reason);
  }

  private ignore(): void {
    this.ignoredFrames++;
  }

  private resync(reason: string): void {
    this.waiting = true;
    this.assembly = undefined;
    if (!this.send) return; // the next Hello asks for what is missing
    this.resyncs++;
    this.lastResync = { at: this.clock.now(), reason };
    this.emit({ resync: { reason } });
  }

  private ack(revision: number): void {
    const now = this.clock.now();
    if (!this.emit({ ack: { revision, appliedAtUnixMs: now } })) return;
    this.acks++;
    this.lastAckAt = now;
  }

  private emit(m: NodeMessage): boolean {
    const send = this.send;
    if (!send) return false;
    try {
      send(m);
      return true;
    } catch (e) {
      this.o.log.warn('distribution: could not send', { body: m.body, error: message(e) });
      return false;
    }
  }

  private cancelRetry(): void {
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
  }
}
