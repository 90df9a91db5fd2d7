/**
 * The shim's connection to the operator: one `Distribution/Subscribe` stream over mutual
 * TLS at a time, fed to a `PolicyStream`; reconnected with jittered exponential backoff
 * whenever it ends (network error, keepalive timeout, operator restart or failover);
 * restarted with a new certificate when the credentials are renewed.
 *
 * Nothing here changes the kernel: while disconnected the datapath keeps enforcing what
 * it holds, and after a reconnect the `Hello` carries the held epoch and revision so the
 * operator can continue with deltas. No network, TLS or credential error escapes: each is
 * logged, counted in the status, and retried.
 */
import * as grpc from '@grpc/grpc-js';
import { SUBSCRIBE_PATH, distributionService, type NodeMessage } from '@palisade/api';
import { ShimError } from '../errors.js';
import type { Logger } from '../log.js';
import { Backoff } from '@palisade/core';
import { channelOptions, STREAM_BACKOFF, type ChannelTuning } from './channel.js';
import { systemClock, type Clock, type Timer } from './clock.js';
import type { CredentialSource, TlsMaterial } from './credentials.js';
import type { PolicyStream, PolicyStreamStatus } from './policyStream.js';

/** Options of an operator connection. */
export interface OperatorConnectionOptions {
  /** The operator's `host:port`. */
  readonly target: string;
  /** The name the operator's certificate must carry, when not the target's host. */
  readonly tlsServerName?: string;
  readonly credentials: CredentialSource;
  /** The protocol state machine (outlives every stream). */
  readonly stream: PolicyStream;
  readonly log: Logger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Between connection attempts (default 200 ms → 30 s, full jitter). */
  readonly backoff?: Backoff;
  /** Between attempts to renew the certificate (default 1 s → 5 min, full jitter). */
  readonly renewBackoff?: Backoff;
  /**
   * A stream that lived this long and heard from the operator resets the reconnect
   * backoff when it ends (default 30 s), so a flapping operator is not hammered.
   */
  readonly healthyAfterMs?: number;
  readonly tuning?: ChannelTuning;
}

/** The distribution client's state, as the shim's status shows it. */
export interface DistributionStatus extends PolicyStreamStatus {
  readonly operator: string;
  /** A stream is open on a ready connection. */
  readonly connected: boolean;
  /** Streams opened since the start. */
  readonly streams: number;
  readonly lastConnectedAt?: string;
  readonly lastDisconnect?: { readonly at: string; readonly reason: string };
  /** The client certificate's expiry and planned renewal (ISO 8601), once known. */
  readonly certificateNotAfter?: string;
  readonly certificateRenewAt?: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return a === b || (a.ca.equals(b.ca) && a.key.equals(b.key) && a.cert.equals(b.cert));
}

/** Keeps one policy stream open to the operator. */
export class OperatorConnection {
  private running = false;
  private client: grpc.Client | undefined;
  private material: TlsMaterial | undefined;
  private call: grpc.ClientDuplexStream<NodeMessage, Buffer> | undefined;
  /** Numbers the streams; events of an older one are dropped once a newer one is open. */
  private generation = 0;
  private openedAt = 0;
  private heard = false;
  private restartNow = false;
  private connectTimer: Timer | undefined;
  private renewTimer: Timer | undefined;
  private renewTimerFor: number | undefined;
  private streams = 0;
  private lastConnectedAt: number | undefined;
  private lastDisconnect: { at: number; reason: string } | undefined;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly renewBackoff: Backoff;
  private readonly serialize: (m: NodeMessage) => Buffer;

  constructor(private readonly o: OperatorConnectionOptions) {
    this.clock = o.clock ?? systemClock;
    this.backoff = o.backoff ?? new Backoff(STREAM_BACKOFF);
    this.renewBackoff = o.renewBackoff ?? new Backoff({ initialMs: 1000, maxMs: 300_000 });
    const subscribe = distributionService()['Subscribe'];
    if (!subscribe) throw new ShimError('SOURCE', 'the Distribution service has no Subscribe');
    this.serialize = (m) => subscribe.requestSerialize(m);
  }

  /** Starts connecting (at once). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connectIn(0);
  }

  /** Ends the stream and every timer; the kernel keeps what it holds. Idempotent. */
  stop(): void {
    this.running = false;
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    this.renewTimer?.cancel();
    this.renewTimer = undefined;
    this.renewTimerFor = undefined;
    const call = this.call;
    this.call = undefined;
    this.generation++;
    this.o.stream.close();
    call?.cancel();
    this.client?.close();
    this.client = undefined;
    this.material = undefined;
  }

  /** The connection's and the stream's state. */
  status(): DistributionStatus {
    const iso = (ms: number): string => new Date(ms).toISOString();
    const ready =
      this.call !== undefined &&
      this.client?.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
    const m = this.material;
    return {
      operator: this.o.target,
      connected: ready,
      streams: this.streams,
      ...(this.lastConnectedAt !== undefined ? { lastConnectedAt: iso(this.lastConnectedAt) } : {}),
      ...(this.lastDisconnect
        ? {
            lastDisconnect: { at: iso(this.lastDisconnect.at), reason: this.lastDisconnect.reason },
          }
        : {}),
      ...(m ? { certificateNotAfter: iso(m.notAfterMs) } : {}),
      ...(m?.renewAtMs !== undefined ? { certificateRenewAt: iso(m.renewAtMs) } : {}),
      ...this.o.stream.status(),
    };
  }

  private connectIn(ms: number): void {
    this.connectTimer?.cancel();
    this.connectTimer = this.clock.schedule(() => {
      this.connectTimer = undefined;
      this.connect().catch((e: unknown) => {
        // connect handles its own failures; this is a bug, and still must not crash.
        this.o.log.error('distribution: connect failed unexpectedly', { error: message(e) });
        this.retryLater(`internal error: ${message(e)}`);
      });
    }, ms);
  }

  private retryLater(reason: string): void {
    if (!this.running || this.call || this.connectTimer) return;
    const delay = this.backoff.next();
    this.o.log.warn('distribution: not connected; retrying', { reason, inMs: delay });
    this.connectIn(delay);
  }

  private async connect(): Promise<void> {
    if (!this.running || this.call) return;
    let material: TlsMaterial;
    try {
      material = await this.o.credentials.current();
    } catch (e) {
      this.lastDisconnect = { at: this.clock.now(), reason: `credentials: ${message(e)}` };
      this.retryLater(`credentials: ${message(e)}`);
      return;
    }
    if (!this.running || this.call) return;
    this.scheduleRenewal(material);
    const client = this.clientFor(material);
    const gen = ++this.generation;
    const call = client.makeBidiStreamRequest<NodeMessage, Buffer>(
      SUBSCRIBE_PATH,
      this.serialize,
      (b) => b,
    );
    this.call = call;
    this.openedAt = this.clock.now();
    this.heard = false;
    this.streams++;
    const heard = (): void => {
      if (gen !== this.generation || this.heard) return;
      this.heard = true;
      this.lastConnectedAt = this.clock.now();
      this.o.log.info('distribution: connected', { operator: this.o.target });
    };
    call.on('metadata', heard);
    call.on('data', (frame: Buffer) => {
      // After `status`, frames still buffered are applied (nothing can be acked); once a
      // newer stream is open, they are dropped (its Hello told the operator where we are).
      if (gen !== this.generation) return;
      heard();
      this.o.stream.receive(frame);
    });
    call.on('error', () => {
      // Every error is followed by `status`, which handles it.
    });
    call.on('status', (s: grpc.StatusObject) => {
      this.ended(gen, `${grpc.status[s.code] ?? s.code}: ${s.details}`);
    });
    this.o.stream.open((m) => {
      if (gen !== this.generation || this.call !== call) throw new Error('the stream has ended');
      call.write(m);
    });
  }

  private ended(gen: number, reason: string): void {
    if (gen !== this.generation || !this.call) return;
    this.call = undefined;
    this.o.stream.close();
    const lived = this.clock.now() - this.openedAt;
    if (this.heard && lived >= (this.o.healthyAfterMs ?? 30_000)) this.backoff.reset();
    this.lastDisconnect = { at: this.clock.now(), reason };
    if (!this.running) return;
    if (this.restartNow) {
      this.restartNow = false;
      this.o.log.info('distribution: reconnecting', { reason });
      this.connectIn(0);
      return;
    }
    this.retryLater(`stream ended: ${reason}`);
  }

  /** The channel for this material (a new one when the material changed). */
  private clientFor(material: TlsMaterial): grpc.Client {
    if (this.client && this.material && sameMaterial(this.material, material)) {
      this.material = material;
      return this.client;
    }
    this.client?.close();
    this.material = material;
    this.client = new grpc.Client(
      this.o.target,
      grpc.credentials.createSsl(material.ca, material.key, material.cert),
      channelOptions(this.o.tlsServerName, this.o.tuning),
    );
    return this.client;
  }

  private scheduleRenewal(material: TlsMaterial): void {
    const at = material.renewAtMs;
    if (at === undefined || this.renewTimerFor === at) return;
    this.renewTimer?.cancel();
    this.renewTimerFor = at;
    this.renewTimer = this.clock.schedule(() => this.renewDue(at), at - this.clock.now());
  }

  private renewDue(at: number): void {
    this.renewTimer = undefined;
    this.renewTimerFor = undefined;
    if (!this.running) return;
    // Timers cap at ~24.8 days: a longer wait fires early and is scheduled again.
    if (this.clock.now() < at) {
      this.renewTimerFor = at;
      this.renewTimer = this.clock.schedule(() => this.renewDue(at), at - this.clock.now());
      return;
    }
    this.o.credentials
      .renew()
      .then(
        (m) => {
          this.renewBackoff.reset();
          if (!this.running) return;
          this.o.log.info('distribution: client certificate renewed', {
            notAfter: new Date(m.notAfterMs).toISOString(),
          });
          this.scheduleRenewal(m);
          this.restart();
        },
        (e: unknown) => {
          if (!this.running) return;
          const delay = this.renewBackoff.next();
          this.o.log.error('distribution: certificate renewal failed; the current one stays', {
            error: message(e),
            retryInMs: delay,
          });
          // Still for `at`: a connect that finds the same certificate does not reschedule.
          this.renewTimer?.cancel();
          this.renewTimerFor = at;
          this.renewTimer = this.clock.schedule(() => this.renewDue(at), delay);
        },
      )
      .catch((e: unknown) => {
        this.o.log.error('distribution: renewal handling failed', { error: message(e) });
      });
  }

  /** Reconnects at once (with the new certificate); the kernel is untouched meanwhile. */
  private restart(): void {
    if (this.call) {
      this.restartNow = true;
      this.call.cancel();
    } else if (!this.connectTimer) this.connectIn(0);
  }
}
