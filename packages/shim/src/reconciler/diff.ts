/** The difference between two map contents, packed as the kernel's batch calls take it. Pure. */
import type { EntryTable } from '../bpf/entryTable.js';

/** Entries to write: `count` keys and values, packed. */
export interface PackedEntries {
  readonly keys: Buffer;
  readonly values: Buffer;
  readonly count: number;
}

/** Keys to delete: `count` keys, packed. */
export interface PackedKeys {
  readonly keys: Buffer;
  readonly count: number;
}

/** What to write and what to delete so that `actual` becomes `desired`. */
export interface MapDiff {
  readonly upsert: PackedEntries;
  readonly remove: PackedKeys;
}

const NONE = Buffer.alloc(0);

/** Diffs desired against actual (tables of the same key and value sizes). */
export function diffTables(desired: EntryTable, actual: EntryTable): MapDiff {
  const ks = desired.keySize;
  const vs = desired.valueSize;
  const dk = desired.keys;
  const dv = desired.values;
  const changed: number[] = [];
  for (let i = 0; i < desired.size; i++) if (!actual.holds(dk, i * ks, dv, i * vs)) changed.push(i);
  const ak = actual.keys;
  const gone: number[] = [];
  for (let i = 0; i < actual.size; i++) if (desired.find(ak, i * ks) < 0) gone.push(i);

  const upKeys = changed.length ? Buffer.allocUnsafe(changed.length * ks) : NONE;
  const upValues = changed.length ? Buffer.allocUnsafe(changed.length * vs) : NONE;
  changed.forEach((e, n) => {
    dk.copy(upKeys, n * ks, e * ks, (e + 1) * ks);
    dv.copy(upValues, n * vs, e * vs, (e + 1) * vs);
  });
  const rmKeys = gone.length ? Buffer.allocUnsafe(gone.length * ks) : NONE;
  gone.forEach((e, n) => ak.copy(rmKeys, n * ks, e * ks, (e + 1) * ks));
  return {
    upsert: { keys: upKeys, values: upValues, count: changed.length },
    remove: { keys: rmKeys, count: gone.length },
  };
}

/** Number of changes in a diff. */
export function diffSize(d: MapDiff): number {
  return d.upsert.count + d.remove.count;
}

/** Number of entries in which two tables differ (missing on either side, or another value). */
export function countDifferences(a: EntryTable, b: EntryTable): number {
  const ks = a.keySize;
  const vs = a.valueSize;
  let n = 0;
  const ak = a.keys;
  const av = a.values;
  for (let i = 0; i < a.size; i++) if (!b.holds(ak, i * ks, av, i * vs)) n++;
  const bk = b.keys;
  for (let i = 0; i < b.size; i++) if (a.find(bk, i * ks) < 0) n++;
  return n;
}
