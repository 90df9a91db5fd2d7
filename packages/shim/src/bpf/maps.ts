/**
 * One pinned BPF map as the shim sees it: whole-map reads and batched writes, with keys
 * and values as Buffers of the layouts in `layouts.ts`.
 */
import { addon } from '../native/addon.js';
import { ShimError } from '../errors.js';

/** A map's entries: key bytes (as a latin1 string, for use as a Map key) → value bytes. */
export type MapContents = Map<string, Buffer>;

/** A BPF map opened by file descriptor. */
export class KernelMap {
  constructor(
    readonly name: string,
    readonly fd: number,
    readonly keySize: number,
    readonly valueSize: number,
    readonly capacity: number,
  ) {}

  /** Every entry, read from the kernel. */
  dump(): MapContents {
    const d = addon().mapDump(this.fd, this.keySize, this.valueSize);
    const out: MapContents = new Map();
    for (let i = 0; i < d.count; i++) {
      const k = d.keys.subarray(i * this.keySize, (i + 1) * this.keySize).toString('latin1');
      out.set(k, Buffer.from(d.values.subarray(i * this.valueSize, (i + 1) * this.valueSize)));
    }
    return out;
  }

  /** Writes entries in one batch. */
  update(entries: readonly (readonly [string, Buffer])[]): void {
    if (entries.length === 0) return;
    const keys = Buffer.allocUnsafe(entries.length * this.keySize);
    const values = Buffer.allocUnsafe(entries.length * this.valueSize);
    entries.forEach(([k, v], i) => {
      keys.write(k, i * this.keySize, 'latin1');
      v.copy(values, i * this.valueSize);
    });
    try {
      addon().mapUpdate(this.fd, keys, values, entries.length, 0);
    } catch (e) {
      throw new ShimError('KERNEL', `updating ${this.name}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** Deletes keys (missing ones are fine). Returns how many existed. */
  delete(keys: readonly string[]): number {
    if (keys.length === 0) return 0;
    const buf = Buffer.allocUnsafe(keys.length * this.keySize);
    keys.forEach((k, i) => buf.write(k, i * this.keySize, 'latin1'));
    try {
      return addon().mapDelete(this.fd, buf, keys.length);
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
