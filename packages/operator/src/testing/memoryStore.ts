/**
 * An in-memory IdentityStore with the same invariants as the real ones, for unit tests of
 * the identity manager (the real stores have their own tests against Redis and a real
 * kube-apiserver). It can be told to fail, to test retries.
 */
import type { SecurityLabels } from '@palisade/core';
import { OperatorError } from '../errors.js';
import type { IdentityStore, StoredIdentity } from '../identity/store.js';

/** The fake store. */
export class MemoryIdentityStore implements IdentityStore {
  readonly kind = 'crd';
  private next = 256;
  readonly byKey = new Map<string, { id: number; labels: SecurityLabels; unusedSince?: number }>();
  /** When set, every call rejects with IDENTITY_STORE. */
  failing = false;
  /** Calls per method, for assertions. */
  readonly calls = { allocate: 0, markUnused: 0, list: 0, collect: 0 };

  private check(): OperatorError | undefined {
    return this.failing
      ? new OperatorError('IDENTITY_STORE', 'store unavailable (test)')
      : undefined;
  }

  allocate(key: string, labels: SecurityLabels): Promise<number> {
    this.calls.allocate++;
    const failure = this.check();
    if (failure) return Promise.reject(failure);
    let e = this.byKey.get(key);
    if (!e) this.byKey.set(key, (e = { id: this.next++, labels }));
    delete e.unusedSince;
    return Promise.resolve(e.id);
  }

  markUnused(ids: readonly number[], at: number): Promise<void> {
    this.calls.markUnused++;
    const failure = this.check();
    if (failure) return Promise.reject(failure);
    for (const e of this.byKey.values())
      if (ids.includes(e.id) && e.unusedSince === undefined) e.unusedSince = at;
    return Promise.resolve();
  }

  list(): Promise<StoredIdentity[]> {
    this.calls.list++;
    return Promise.resolve(
      [...this.byKey].map(([key, e]) => ({
        id: e.id,
        key,
        labels: e.labels,
        ...(e.unusedSince !== undefined ? { unusedSince: e.unusedSince } : {}),
      })),
    );
  }

  collect(before: number): Promise<number[]> {
    this.calls.collect++;
    const freed: number[] = [];
    for (const [k, e] of this.byKey)
      if (e.unusedSince !== undefined && e.unusedSince <= before) {
        this.byKey.delete(k);
        freed.push(e.id);
      }
    return Promise.resolve(freed.sort((a, b) => a - b));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
