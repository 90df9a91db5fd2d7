/** The difference between two map contents. Pure. */
import type { MapContents } from '../bpf/maps.js';

/** What to write and what to delete so that `actual` becomes `desired`. */
export interface MapDiff {
  readonly upsert: (readonly [string, Buffer])[];
  readonly remove: string[];
}

/** Diffs desired against actual. */
export function diffMap(desired: MapContents, actual: MapContents): MapDiff {
  const upsert: (readonly [string, Buffer])[] = [];
  const remove: string[] = [];
  for (const [k, v] of desired) {
    const a = actual.get(k);
    if (!a || !a.equals(v)) upsert.push([k, v]);
  }
  for (const k of actual.keys()) if (!desired.has(k)) remove.push(k);
  return { upsert, remove };
}

/** Number of changes in a diff. */
export function diffSize(d: MapDiff): number {
  return d.upsert.length + d.remove.length;
}
