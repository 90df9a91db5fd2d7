/**
 * A packed table of BPF map entries: fixed-size keys and values stored back to back in two
 * Buffers, found through an open-addressing hash index in an Int32Array. It holds what the
 * shim wants a map to contain, or believes it contains, without a JavaScript object per
 * entry: 10,000 policy entries take ~0.4 MB and no garbage collector work, where a
 * `Map<string, Buffer>` took ~2 MB of small heap objects rebuilt on every change.
 *
 * Invariants: entries `0 … size-1` are dense (a removal moves the last entry into the
 * hole); the index has a power-of-two length at least twice the entry capacity, uses linear
 * probing and holds `entry + 1` (0 = empty), with no tombstones (removal shifts back the
 * entries that follow in the probe run).
 */

const MIN_CAPACITY = 16;

/** 32-bit FNV-1a over `len` bytes of `b` from `off`. */
function hashBytes(b: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ (b[off + i] as number), 0x01000193);
  return h >>> 0;
}

function bytesEqual(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** Copies `len` bytes (a loop: no view object per call, unlike `subarray` + `set`). */
function copyBytes(from: Uint8Array, fo: number, to: Uint8Array, too: number, len: number): void {
  for (let i = 0; i < len; i++) to[too + i] = from[fo + i] as number;
}

/** Fixed-size keys → fixed-size values, packed. */
export class EntryTable {
  private keyBytes: Buffer;
  private valueBytes: Buffer;
  private index: Int32Array;
  private count = 0;

  /** An empty table with room for `capacity` entries before it grows. */
  constructor(
    readonly keySize: number,
    readonly valueSize: number,
    capacity = MIN_CAPACITY,
  ) {
    const cap = Math.max(MIN_CAPACITY, capacity);
    this.keyBytes = Buffer.allocUnsafeSlow(cap * keySize);
    this.valueBytes = Buffer.allocUnsafeSlow(cap * valueSize);
    this.index = new Int32Array(indexLength(cap));
  }

  /**
   * Replaces the contents with what `fill` writes into the table's own storage: it gets the
   * key and value buffers, writes entries packed from offset 0 and returns how many there
   * are; when more than fit, the table grows and calls it again. Nothing is allocated once
   * the table has its size (a periodic re-read of a kernel map stays flat). A key that
   * repeats keeps its last value.
   */
  refill(fill: (keys: Buffer, values: Buffer) => number): void {
    for (;;) {
      this.count = 0;
      this.index.fill(0);
      const total = fill(this.keyBytes, this.valueBytes);
      if (total <= this.capacity) {
        this.adopt(total);
        if (this.capacity > Math.max(MIN_CAPACITY, this.count) * 8) this.resize(this.count * 2);
        return;
      }
      this.resize(Math.ceil(total * 1.25));
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** The packed keys of entries `0 … size-1` (a view, valid until the table changes). */
  get keys(): Buffer {
    return this.keyBytes.subarray(0, this.count * this.keySize);
  }

  /** The packed values of entries `0 … size-1` (a view, valid until the table changes). */
  get values(): Buffer {
    return this.valueBytes.subarray(0, this.count * this.valueSize);
  }

  /** Entries the storage holds before it grows. */
  private get capacity(): number {
    return Math.min(
      Math.floor(this.keyBytes.length / this.keySize),
      Math.floor(this.valueBytes.length / this.valueSize),
    );
  }

  /** The entry number of the key at `key[off…]`, or -1. */
  find(key: Uint8Array, off: number): number {
    const ks = this.keySize;
    const mask = this.index.length - 1;
    for (let s = hashBytes(key, off, ks) & mask; ; s = (s + 1) & mask) {
      const e = (this.index[s] as number) - 1;
      if (e < 0) return -1;
      if (bytesEqual(this.keyBytes, e * ks, key, off, ks)) return e;
    }
  }

  /** True when entry `e`'s value equals `value[off…]`. */
  valueEquals(e: number, value: Uint8Array, off: number): boolean {
    return bytesEqual(this.valueBytes, e * this.valueSize, value, off, this.valueSize);
  }

  /** True when the table holds the key at `key[off…]` with the value at `value[voff…]`. */
  holds(key: Uint8Array, off: number, value: Uint8Array, voff: number): boolean {
    const e = this.find(key, off);
    return e >= 0 && this.valueEquals(e, value, voff);
  }

  /** Inserts or overwrites the entry with the key at `key[koff…]` and value at `value[voff…]`. */
  set(key: Uint8Array, koff: number, value: Uint8Array, voff: number): void {
    let e = this.find(key, koff);
    if (e < 0) {
      if (this.count >= this.capacity) this.resize(this.count * 2);
      e = this.count++;
      copyBytes(key, koff, this.keyBytes, e * this.keySize, this.keySize);
      this.link(e, key, koff);
    }
    copyBytes(value, voff, this.valueBytes, e * this.valueSize, this.valueSize);
  }

  /** Removes the key at `key[off…]`. Returns whether it was there. */
  delete(key: Uint8Array, off: number): boolean {
    const e = this.find(key, off);
    if (e < 0) return false;
    this.unlink(e);
    const last = --this.count;
    if (e !== last) {
      // Move the last entry into the hole and point its index slot at the new place.
      const ks = this.keySize;
      const vs = this.valueSize;
      this.keyBytes.copy(this.keyBytes, e * ks, last * ks, (last + 1) * ks);
      this.valueBytes.copy(this.valueBytes, e * vs, last * vs, (last + 1) * vs);
      this.index[this.slotOf(last)] = e + 1;
    }
    if (this.count < this.capacity / 8) this.resize(this.count * 2);
    return true;
  }

  /** Removes every entry, giving back storage beyond `capacity` entries. */
  clear(capacity = MIN_CAPACITY): void {
    this.count = 0;
    if (this.capacity > Math.max(MIN_CAPACITY, capacity) * 2) this.resize(capacity);
    else this.index.fill(0);
  }

  /** A copy of entry `e`'s key (for tests and messages). */
  keyAt(e: number): Buffer {
    return Buffer.from(this.keyBytes.subarray(e * this.keySize, (e + 1) * this.keySize));
  }

  /** A copy of entry `e`'s value (for tests and messages). */
  valueAt(e: number): Buffer {
    return Buffer.from(this.valueBytes.subarray(e * this.valueSize, (e + 1) * this.valueSize));
  }

  /**
   * Indexes the first `count` packed entries of the storage (the index is empty), compacting
   * in place: entry i moves down to `this.count` unless its key was seen before, in which
   * case its value overwrites the earlier one.
   */
  private adopt(count: number): void {
    const ks = this.keySize;
    const vs = this.valueSize;
    const keys = this.keyBytes;
    const values = this.valueBytes;
    this.count = 0;
    for (let i = 0; i < count; i++) {
      const seen = this.find(keys, i * ks);
      const to = seen < 0 ? this.count : seen;
      if (to !== i) values.copy(values, to * vs, i * vs, (i + 1) * vs);
      if (seen >= 0) continue;
      if (to !== i) keys.copy(keys, to * ks, i * ks, (i + 1) * ks);
      this.link(this.count++, keys, to * ks);
    }
  }

  /** The index slot that points at entry `e`. */
  private slotOf(e: number): number {
    const mask = this.index.length - 1;
    for (
      let s = hashBytes(this.keyBytes, e * this.keySize, this.keySize) & mask;
      ;
      s = (s + 1) & mask
    )
      if (this.index[s] === e + 1) return s;
  }

  private link(e: number, key: Uint8Array, off: number): void {
    const mask = this.index.length - 1;
    let s = hashBytes(key, off, this.keySize) & mask;
    while (this.index[s] !== 0) s = (s + 1) & mask;
    this.index[s] = e + 1;
  }

  /** Frees entry `e`'s index slot, shifting back later entries of its probe run. */
  private unlink(e: number): void {
    const idx = this.index;
    const mask = idx.length - 1;
    let hole = this.slotOf(e);
    idx[hole] = 0;
    for (let s = (hole + 1) & mask; idx[s] !== 0; s = (s + 1) & mask) {
      const other = (idx[s] as number) - 1;
      const home = hashBytes(this.keyBytes, other * this.keySize, this.keySize) & mask;
      // Move it into the hole when its home is not within (hole, s] (cyclically).
      if (((s - home) & mask) >= ((s - hole) & mask)) {
        idx[hole] = idx[s] as number;
        idx[s] = 0;
        hole = s;
      }
    }
  }

  private resize(capacity: number): void {
    const cap = Math.max(MIN_CAPACITY, capacity);
    const keys = Buffer.allocUnsafeSlow(cap * this.keySize);
    const values = Buffer.allocUnsafeSlow(cap * this.valueSize);
    this.keyBytes.copy(keys, 0, 0, this.count * this.keySize);
    this.valueBytes.copy(values, 0, 0, this.count * this.valueSize);
    this.keyBytes = keys;
    this.valueBytes = values;
    this.index = new Int32Array(indexLength(cap));
    for (let e = 0; e < this.count; e++) this.link(e, keys, e * this.keySize);
  }
}

/** Index length for `capacity` entries: a power of two, at least twice as many. */
function indexLength(capacity: number): number {
  let n = MIN_CAPACITY * 2;
  while (n < capacity * 2) n *= 2;
  return n;
}
