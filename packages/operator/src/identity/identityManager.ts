/**
 * The operator's view of identities: a local cache in front of the shared store, the
 * synchronous numbering the compiler needs, garbage collection, and high-cardinality
 * detection.
 *
 * Protocol with the compiler (`PolicyEngine` takes numbers synchronously):
 * 1. a controller calls `await ensure(labels)` — the number comes from the store, which
 *    also clears an unused mark;
 * 2. in the same synchronous continuation it feeds the engine, which calls `acquire`
 *    (found in the cache) or nothing (the engine already holds that identity);
 * 3. when the engine stops using an identity it calls `drop`; at zero references the
 *    identity is marked unused in the store.
 *
 * Invariants:
 * - store operations for one key run one at a time, in the order they were asked for;
 * - a mark is written only if, when it runs, the key has no reference and no `ensure`
 *   resolved within the current macrotask (the window between step 1 and step 2);
 * - every `sweep` marks what nobody here references and clears marks on what is
 *   referenced (repairing a mark written by a previous leader), so a wrong mark never
 *   survives long enough to reach the grace period;
 * - GC deletes only identities whose mark is older than the grace period.
 */
import { identityKey, type IdentityNumbering, type SecurityLabels } from '@palisade/core';
import { OperatorError } from '../errors.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import { sleep } from '../kube/backoff.js';
import type { IdentityStore } from './store.js';

interface Entry {
  id: number;
  readonly key: string;
  readonly labels: SecurityLabels;
  refs: number;
  /** `ensure` calls whose caller has not had a macrotask to acquire yet. */
  pins: number;
  /** True while the store is known to hold no unused mark for it (since our last allocate). */
  clear: boolean;
}

/** What the manager reports (the operator turns these into metrics and events). */
export interface IdentityHooks {
  /** A number was obtained from the store (`ms` = store latency). */
  allocated?(id: number, ms: number): void;
  /** Identities were freed by GC. */
  freed?(ids: readonly number[]): void;
  /** A pod label key produces more than the threshold of distinct identities. */
  highCardinality?(labelKey: string, identities: number, example: SecurityLabels): void;
  /** A store call failed (it is retried by whoever asked). */
  storeError?(op: string, err: unknown): void;
}

/** Options of the manager. */
export interface IdentityManagerOptions {
  readonly store: IdentityStore;
  /** How long an identity stays after its last use (default 15 minutes). */
  readonly graceMs?: number;
  /** How often GC runs (default: a tenth of the grace, between 1 s and 60 s). */
  readonly gcIntervalMs?: number;
  /** Identities one pod label key may produce before it is reported (default 256). */
  readonly highCardinalityThreshold?: number;
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly hooks?: IdentityHooks;
}

/** The manager. */
export class IdentityManager implements IdentityNumbering {
  private readonly byKey = new Map<string, Entry>();
  private readonly byId = new Map<number, Entry>();
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Pod label key → value → number of live identities with it. */
  private readonly labelValues = new Map<string, Map<string, number>>();
  private readonly reported = new Set<string>();
  /** Marks put off until a pin expires. */
  private deferred = 0;
  private readonly graceMs: number;
  private readonly gcIntervalMs: number;
  private readonly threshold: number;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly o: IdentityManagerOptions) {
    this.graceMs = o.graceMs ?? 15 * 60_000;
    this.gcIntervalMs = o.gcIntervalMs ?? Math.min(60_000, Math.max(1000, this.graceMs / 10));
    this.threshold = o.highCardinalityThreshold ?? 256;
    this.now = o.now ?? Date.now;
    this.log = (o.logger ?? silentLogger).with({ component: 'identities' });
  }

  /** The store behind the manager. */
  get store(): IdentityStore {
    return this.o.store;
  }

  /** Identities referenced by the compiler right now. */
  get inUse(): number {
    let n = 0;
    for (const e of this.byKey.values()) if (e.refs > 0) n++;
    return n;
  }

  /** Identities in the local cache (in use or in grace). */
  get cached(): number {
    return this.byKey.size;
  }

  /** The cached number of a label set, if any. */
  numberOf(labels: SecurityLabels): number | undefined {
    return this.byKey.get(identityKey(labels))?.id;
  }

  /**
   * Makes sure this label set has a number (from the store) and the compiler may acquire
   * it during the current macrotask. Rejects when the store fails; the caller retries.
   */
  async ensure(labels: SecurityLabels): Promise<number> {
    const key = identityKey(labels);
    const have = this.byKey.get(key);
    if (have && (have.refs > 0 || have.clear)) {
      this.pin(have);
      return have.id;
    }
    const id = await this.serial(key, async () => {
      const t0 = performance.now();
      let got: number;
      try {
        got = await this.o.store.allocate(key, labels);
      } catch (err) {
        this.o.hooks?.storeError?.('allocate', err);
        throw err;
      }
      this.o.hooks?.allocated?.(got, performance.now() - t0);
      const e = this.byKey.get(key);
      if (e && e.id !== got) {
        if (e.refs > 0)
          throw new OperatorError(
            'IDENTITY_STORE',
            `label set ${key} is in use as identity ${e.id} but the store now says ${got}`,
          );
        this.byId.delete(e.id);
        e.id = got;
        e.clear = true;
        this.byId.set(got, e);
      } else if (e) e.clear = true;
      else {
        const n: Entry = { id: got, key, labels, refs: 0, pins: 0, clear: true };
        this.byKey.set(key, n);
        this.byId.set(got, n);
      }
      return got;
    });
    const e = this.byKey.get(key);
    if (e) this.pin(e);
    return id;
  }

  /** Keeps `e` from being marked until the caller's continuation has run. */
  private pin(e: Entry): void {
    e.pins++;
    setImmediate(() => e.pins--);
  }

  /** {@inheritDoc IdentityNumbering.acquire} */
  acquire(key: string, labels: SecurityLabels): number {
    const e = this.byKey.get(key);
    if (!e)
      throw new OperatorError(
        'IDENTITY_STORE',
        `identity for ${key} used before it was allocated (ensure() must come first)`,
      );
    if (e.refs++ === 0) this.countLabels(labels, 1);
    return e.id;
  }

  /** {@inheritDoc IdentityNumbering.drop} */
  drop(key: string): void {
    const e = this.byKey.get(key);
    if (!e || e.refs === 0) return;
    if (--e.refs > 0) return;
    this.countLabels(e.labels, -1);
    void this.scheduleMark(e);
  }

  /**
   * Brings the store's marks in line with local references: marks unreferenced identities
   * unused, clears marks on referenced ones. Returns how many marks it wrote or cleared.
   */
  async sweep(): Promise<{ marked: number; cleared: number }> {
    const stored = await this.o.store.list();
    let marked = 0;
    let cleared = 0;
    const at = this.now();
    const jobs: Promise<unknown>[] = [];
    // Only this sweep's own store calls are awaited: under constant churn the manager as a
    // whole is never idle, and GC must not wait for it to be.
    for (const s of stored) {
      const e = this.byKey.get(s.key);
      const used = e !== undefined && e.id === s.id && (e.refs > 0 || e.pins > 0);
      if (used && s.unusedSince !== undefined) {
        cleared++;
        jobs.push(
          this.serial(s.key, async () => {
            await this.o.store.allocate(s.key, s.labels);
            if (e) e.clear = true;
          }),
        );
      } else if (!used && s.unusedSince === undefined) {
        marked++;
        if (!e) {
          const n: Entry = {
            id: s.id,
            key: s.key,
            labels: s.labels,
            refs: 0,
            pins: 0,
            clear: false,
          };
          this.byKey.set(s.key, n);
          this.byId.set(s.id, n);
          jobs.push(this.scheduleMark(n, at));
        } else if (e.id === s.id) jobs.push(this.scheduleMark(e, at));
      }
    }
    await Promise.all(jobs);
    return { marked, cleared };
  }

  /** Frees identities unused for the whole grace period; returns their numbers. */
  async gc(): Promise<number[]> {
    const freed = await this.o.store.collect(this.now() - this.graceMs);
    for (const id of freed) {
      const e = this.byId.get(id);
      if (e && e.refs === 0) {
        this.byId.delete(id);
        if (this.byKey.get(e.key) === e) this.byKey.delete(e.key);
      } else if (e)
        this.log.error('store freed an identity still in use: it will be allocated again', {
          id,
        });
    }
    if (freed.length > 0) {
      this.o.hooks?.freed?.(freed);
      this.log.info('freed unused identities', { count: freed.length });
    }
    return freed;
  }

  /**
   * Runs sweep + GC every interval until `signal` aborts. Store failures are logged and
   * retried at the next round; it never rejects.
   */
  async run(signal: AbortSignal, sweepEvery = 5): Promise<void> {
    let round = 0;
    while (!signal.aborted) {
      try {
        if (round % sweepEvery === 0) await this.sweep();
        await this.gc();
      } catch (err) {
        this.o.hooks?.storeError?.('gc', err);
        this.log.warn('identity GC round failed', { error: errorMessage(err) });
      }
      round++;
      await sleep(this.gcIntervalMs, signal);
    }
  }

  /** Resolves when every queued store operation has finished. */
  async idle(): Promise<void> {
    while (this.chains.size > 0 || this.deferred > 0) {
      if (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** Queues a mark for `e`; the promise settles when the store call is done (never rejects). */
  private scheduleMark(e: Entry, at = this.now()): Promise<void> {
    return this.serial(e.key, async () => {
      if (e.refs > 0 || this.byKey.get(e.key) !== e) return;
      if (e.pins > 0) {
        // An ensure is about to hand it to its caller: decide again once that has run.
        this.deferred++;
        setImmediate(() => {
          this.deferred--;
          void this.scheduleMark(e, at);
        });
        return;
      }
      e.clear = false;
      try {
        await this.o.store.markUnused([e.id], at);
      } catch (err) {
        this.o.hooks?.storeError?.('markUnused', err);
        this.log.warn('could not mark identity unused (the next sweep retries)', {
          id: e.id,
          error: errorMessage(err),
        });
      }
    }).catch(() => undefined);
  }

  /** Runs `op` after every earlier operation on `key`. */
  private serial<T>(key: string, op: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const run = prev.then(op, op);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return run;
  }

  private countLabels(labels: SecurityLabels, delta: 1 | -1): void {
    for (const [k, v] of Object.entries(labels.podLabels)) {
      let values = this.labelValues.get(k);
      if (!values) this.labelValues.set(k, (values = new Map<string, number>()));
      const n = (values.get(v) ?? 0) + delta;
      if (n <= 0) values.delete(v);
      else values.set(v, n);
      if (values.size === 0) this.labelValues.delete(k);
      if (delta > 0 && values.size > this.threshold && !this.reported.has(k)) {
        this.reported.add(k);
        this.log.warn('high-cardinality label: it produces many identities', {
          labelKey: k,
          identities: values.size,
          threshold: this.threshold,
        });
        this.o.hooks?.highCardinality?.(k, values.size, labels);
      }
      if (delta < 0 && values.size <= this.threshold / 2) this.reported.delete(k);
    }
  }
}
