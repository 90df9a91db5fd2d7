/**
 * Leader election on a `coordination.k8s.io/v1` Lease (the client-go algorithm).
 *
 * - A candidate takes the lease when it is free or its holder has not renewed it for
 *   `leaseDurationSeconds`, measured on the candidate's own clock from when it last saw the
 *   record change (so clock skew between replicas does not matter).
 * - Every write is a compare-and-swap on the lease's resourceVersion: two candidates can
 *   never both believe they took it.
 * - The leader renews every `retryPeriodMs`; if it cannot renew within `renewDeadlineMs`
 *   it stops leading (its signal aborts) before another candidate can take over
 *   (renewDeadline < leaseDuration).
 * - On shutdown the leader releases the lease so a standby takes over at once.
 */
import { errorMessage, silentLogger, type Logger } from '../log.js';
import { sleep } from './backoff.js';
import type { KubeClient } from './client.js';
import { KubeApiError } from './kubeApiError.js';
import type { KubeObject } from './kubeObject.js';
import { Resources } from './resources.js';

/** A Lease object (the fields used). */
export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** Options of leader election. */
export interface LeaderElectionOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  /** Name of the Lease. */
  readonly name: string;
  /** This candidate's identity (pod name + random suffix). */
  readonly identity: string;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly logger?: Logger;
  /** Called when this candidate becomes leader; `signal` aborts when it stops leading. */
  readonly onStartedLeading: (signal: AbortSignal) => void;
  /** Called when this candidate stops leading (after `signal` aborted). */
  readonly onStoppedLeading?: () => void;
  /** Called when the observed leader changes. */
  readonly onNewLeader?: (identity: string) => void;
}

/** Runs the election for one candidate. */
export class LeaderElector {
  private observed: { holder: string; renewTime: string; rv: string } | undefined;
  private observedAt = 0;
  private leading = false;
  private readonly log: Logger;
  private readonly durationMs: number;

  constructor(private readonly o: LeaderElectionOptions) {
    this.log = (o.logger ?? silentLogger).with({ lease: `${o.namespace}/${o.name}` });
    this.durationMs = (o.leaseDurationSeconds ?? 15) * 1000;
  }

  /** True while this candidate holds the lease. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder last observed. */
  get leader(): string | undefined {
    return this.observed?.holder || undefined;
  }

  /**
   * Competes for the lease, leads, and competes again after losing it, until `signal`
   * aborts; then releases the lease if held. Never rejects.
   */
  async run(signal: AbortSignal): Promise<void> {
    const retry = this.o.retryPeriodMs ?? 2000;
    while (!signal.aborted) {
      if (!(await this.tryAcquireOrRenew())) {
        await sleep(retry * (1 + Math.random() * 0.2), signal);
        continue;
      }
      this.leading = true;
      this.log.info('became leader', { identity: this.o.identity });
      const lead = new AbortController();
      try {
        this.o.onStartedLeading(lead.signal);
      } catch (err) {
        this.log.error('onStartedLeading threw', { error: errorMessage(err) });
      }
      await this.renewLoop(signal);
      lead.abort();
      this.leading = false;
      if (signal.aborted)
        this.log.info('stopped leading: shutting down', { identity: this.o.identity });
      else this.log.warn('lost the lease: stopped leading', { identity: this.o.identity });
      this.o.onStoppedLeading?.();
      if (signal.aborted) await this.release();
    }
  }

  private async renewLoop(signal: AbortSignal): Promise<void> {
    const retry = this.o.retryPeriodMs ?? 2000;
    const deadline = this.o.renewDeadlineMs ?? 10_000;
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(retry, signal);
      if (signal.aborted) return;
      if (await this.tryAcquireOrRenew()) lastRenew = Date.now();
      else if (this.observed && this.observed.holder !== this.o.identity) return;
      if (Date.now() - lastRenew > deadline) {
        this.log.error('could not renew the lease within the deadline', { deadlineMs: deadline });
        return;
      }
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.o;
    const now = new Date();
    const nowIso = now.toISOString().replace(/Z$/, '000Z');
    try {
      const lease = await client.get<Lease>(Resources.leases, name, namespace);
      if (!lease) {
        await client.create<Lease>(Resources.leases, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.durationMs / 1000,
            acquireTime: nowIso,
            renewTime: nowIso,
            leaseTransitions: 0,
          },
        });
        this.observe(identity, nowIso, '');
        return true;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      this.observe(holder, spec.renewTime ?? '', lease.metadata.resourceVersion ?? '');
      const expired = Date.now() - this.observedAt > (spec.leaseDurationSeconds ?? 15) * 1000;
      if (holder !== '' && holder !== identity && !expired) return false;
      const isNewHolder = holder !== identity;
      await client.replace<Lease>(Resources.leases, {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.durationMs / 1000,
          acquireTime: isNewHolder ? nowIso : (spec.acquireTime ?? nowIso),
          renewTime: nowIso,
          leaseTransitions: (spec.leaseTransitions ?? 0) + (isNewHolder ? 1 : 0),
        },
      });
      this.observe(identity, nowIso, '');
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && (err.conflict || err.alreadyExists)) return false;
      this.log.warn('lease request failed', { error: errorMessage(err) });
      return false;
    }
  }

  private observe(holder: string, renewTime: string, rv: string): void {
    const prev = this.observed;
    if (!prev || prev.holder !== holder || prev.renewTime !== renewTime || (rv && prev.rv !== rv)) {
      this.observed = { holder, renewTime, rv };
      this.observedAt = Date.now();
      if (prev?.holder !== holder && holder) this.o.onNewLeader?.(holder);
    }
  }

  private async release(): Promise<void> {
    const { client, namespace, name, identity } = this.o;
    try {
      const lease = await client.get<Lease>(Resources.leases, name, namespace);
      if (!lease || lease.spec?.holderIdentity !== identity) return;
      await client.replace<Lease>(Resources.leases, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1 },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn('could not release the lease', { error: errorMessage(err) });
    }
  }
}
