/**
 * Identity allocation: the interface the operator's stores (CRD, Redis) implement, and an
 * in-memory implementation for the simulator and tests.
 *
 * Invariants every implementation keeps:
 * - one label set ↔ one number while it is allocated (never two numbers for one set, never
 *   one number for two sets);
 * - an identity whose last reference was released is freed only after the grace period,
 *   and a freed number is not handed out again within the grace period after it was freed.
 */
import { EngineError } from '../errors.js';
import { FIRST_CLUSTER_IDENTITY, LAST_CLUSTER_IDENTITY } from './reserved.js';
import { identityKey, type SecurityLabels } from './securityLabels.js';

/** An allocated identity. */
export interface AllocatedIdentity {
  readonly id: number;
  readonly key: string;
  readonly labels: SecurityLabels;
}

/** Asynchronous allocation, implemented by the stores. */
export interface IdentityAllocator {
  /** The identity for this label set, allocated if needed; takes one reference. */
  allocate(labels: SecurityLabels): Promise<AllocatedIdentity>;
  /** Drops one reference; at zero the identity starts its grace period. */
  release(id: number): Promise<void>;
  /** The identity with this number, if allocated. */
  lookup(id: number): Promise<AllocatedIdentity | undefined>;
  /** Frees identities unreferenced for the whole grace period; returns their numbers. */
  gc(): Promise<number[]>;
}

/** Synchronous numbering, as the engine needs it (backed by a store's local cache). */
export interface IdentityNumbering {
  /** The number for this label set; takes one reference. */
  acquire(key: string, labels: SecurityLabels): number;
  /** Drops one reference. */
  drop(key: string): void;
}

/** Options of the in-memory allocator. */
export interface InMemoryAllocatorOptions {
  /** Grace period in milliseconds (default 15 minutes). */
  readonly graceMs?: number;
  /** The clock (default Date.now); tests pass a fake one. */
  readonly now?: () => number;
  /** First and last numbers to hand out (default 256 and 2^31 − 1). */
  readonly first?: number;
  readonly last?: number;
}

interface Entry {
  readonly identity: AllocatedIdentity;
  refs: number;
  unusedSince: number | undefined;
}

/** An allocator that lives in memory. Numbers are handed out in order, so runs are repeatable. */
export class InMemoryAllocator implements IdentityAllocator, IdentityNumbering {
  private readonly byKey = new Map<string, Entry>();
  private readonly byId = new Map<number, Entry>();
  private readonly quarantine: { id: number; until: number }[] = [];
  private readonly graceMs: number;
  private readonly now: () => number;
  private readonly last: number;
  private next: number;

  constructor(options: InMemoryAllocatorOptions = {}) {
    this.graceMs = options.graceMs ?? 15 * 60 * 1000;
    this.now = options.now ?? Date.now;
    this.next = options.first ?? FIRST_CLUSTER_IDENTITY;
    this.last = options.last ?? LAST_CLUSTER_IDENTITY;
  }

  /** Synchronous allocation by key. */
  acquire(key: string, labels: SecurityLabels): number {
    let e = this.byKey.get(key);
    if (!e) {
      e = { identity: { id: this.takeNumber(), key, labels }, refs: 0, unusedSince: undefined };
      this.byKey.set(key, e);
      this.byId.set(e.identity.id, e);
    }
    e.refs++;
    e.unusedSince = undefined;
    return e.identity.id;
  }

  /** Synchronous release by key. */
  drop(key: string): void {
    this.unref(this.byKey.get(key));
  }

  /** {@inheritDoc IdentityAllocator.release} */
  release(id: number): Promise<void> {
    this.unref(this.byId.get(id));
    return Promise.resolve();
  }

  private unref(e: Entry | undefined): void {
    if (e && e.refs > 0) {
      e.refs--;
      if (e.refs === 0) e.unusedSince = this.now();
    }
  }

  /** {@inheritDoc IdentityAllocator.allocate} */
  allocate(labels: SecurityLabels): Promise<AllocatedIdentity> {
    try {
      const id = this.acquire(identityKey(labels), labels);
      return Promise.resolve(this.byId.get(id)!.identity);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** {@inheritDoc IdentityAllocator.lookup} */
  lookup(id: number): Promise<AllocatedIdentity | undefined> {
    return Promise.resolve(this.byId.get(id)?.identity);
  }

  /** {@inheritDoc IdentityAllocator.gc} */
  gc(): Promise<number[]> {
    return Promise.resolve(this.gcSync());
  }

  /** Synchronous GC. */
  gcSync(): number[] {
    const now = this.now();
    const freed: number[] = [];
    for (const [key, e] of this.byKey) {
      if (e.refs === 0 && e.unusedSince !== undefined && now - e.unusedSince >= this.graceMs) {
        this.byKey.delete(key);
        this.byId.delete(e.identity.id);
        this.quarantine.push({ id: e.identity.id, until: now + this.graceMs });
        freed.push(e.identity.id);
      }
    }
    return freed.sort((a, b) => a - b);
  }

  /** Number of identities currently allocated (referenced or in grace). */
  get size(): number {
    return this.byKey.size;
  }

  private takeNumber(): number {
    if (this.next <= this.last) return this.next++;
    const head = this.quarantine[0];
    if (head && head.until <= this.now()) {
      this.quarantine.shift();
      return head.id;
    }
    throw new EngineError(
      'IdentityExhausted',
      `no identity number free between ${FIRST_CLUSTER_IDENTITY} and ${this.last}`,
    );
  }
}
