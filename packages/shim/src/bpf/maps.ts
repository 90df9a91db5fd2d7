/**
 * One pinned BPF map as the shim sees it: whole-map reads into a packed table and batched
 * writes and deletes of packed keys and values, in the layouts of `layouts.ts`.
 */
import { addon } from '../native/addon.js';
import { ShimError } from '../errors.js';
import type { EntryTable } from './entryTable.js';

/** A BPF map opened by file descriptor. */
export class KernelMap {
  constructor(
    readonly name: string,
    readonly fd: number,
    readonly keySize: number,
    readonly valueSize: number,
    readonly capacity: number,
  ) {}

  /**
   * Replaces `into`'s contents with every entry of the map, read straight into its storage
   * (no allocation once the table has its size).
   */
  dumpInto(into: EntryTable): void {
    const a = addon();
    try {
      into.refill((keys, values) =>
        a.mapDumpInto(this.fd, keys, values, this.keySize, this.valueSize),
      );
    } catch (e) {
      throw new ShimError('KERNEL', `reading ${this.name}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Writes `count` packed entries in one batch. */
  update(keys: Buffer, values: Buffer, count: number): void {
    if (count === 0) return;
    try {
      addon().mapUpdate(
        this.fd,
        keys.subarray(0, count * this.keySize),
        values.subarray(0, count * this.valueSize),
        count,
        0,
      );
    } catch (e) {
      throw new ShimError('KERNEL', `updating ${this.name}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** Deletes `count` packed keys (missing ones are fine). Returns how many existed. */
  delete(keys: Buffer, count: number): number {
    if (count === 0) return 0;
    try {
      return addon().mapDelete(this.fd, keys.subarray(0, count * this.keySize), count);
    } catch (e) {
      throw new ShimError('KERNEL', `deleting from ${this.name}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** The value of one key, or undefined. `valueSize` overrides for per-CPU maps. */
  lookup(key: Buffer, valueSize = this.valueSize): Buffer | undefined {
    return addon().mapLookup(this.fd, key, valueSize) ?? undefined;
  }
}
