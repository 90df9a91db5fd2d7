/**
 * Where the operator keeps identities: the contract both stores (CRD and Redis) keep.
 *
 * Invariants, across any number of processes using one store at once:
 * - one label-set key ↔ one number while the identity exists: `allocate` never returns two
 *   numbers for one key, and never one number for two keys;
 * - numbers are handed out from a monotonic counter and never reused (a freed number is
 *   therefore never reused within the grace period); the counter starts at 256;
 * - an identity is deleted only by `collect`, and only if its unused mark is still set and
 *   older than the cut-off when the delete happens (atomically with respect to `allocate`,
 *   which clears the mark).
 */
import type { SecurityLabels } from '@palisade/core';

/** An identity as the store holds it. */
export interface StoredIdentity {
  readonly id: number;
  /** The canonical label-set key (`identityKey(labels)`). */
  readonly key: string;
  readonly labels: SecurityLabels;
  /** When it was marked unused (ms since the epoch), if it is. */
  readonly unusedSince?: number;
}

/** The store kinds, as selected by configuration. */
export type IdentityStoreKind = 'crd' | 'redis';

/** A shared, persistent identity store. Every method may be called concurrently. */
export interface IdentityStore {
  readonly kind: IdentityStoreKind;
  /**
   * The number for this key, created if absent. Clears the key's unused mark if it has one.
   * Throws `OperatorError` 'IDENTITY_EXHAUSTED' when no number is left, 'IDENTITY_STORE'
   * when the store fails.
   */
  allocate(key: string, labels: SecurityLabels): Promise<number>;
  /** Marks these identities unused since `at` (ms), leaving an existing mark as it is. */
  markUnused(ids: readonly number[], at: number): Promise<void>;
  /** Every identity in the store. */
  list(): Promise<StoredIdentity[]>;
  /**
   * Deletes the identities whose unused mark is at or before `before` (ms) and returns their
   * numbers. An identity whose mark was cleared meanwhile is kept.
   */
  collect(before: number): Promise<number[]>;
  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}
