/**
 * The set of prefixes that policies mention (CIDR peers and their excepts), reference
 * counted, indexed by length so that "which policy prefixes contain this address" costs
 * one set lookup per distinct length rather than one test per prefix.
 */
import { familyBits, formatPrefix, type Family, type Prefix } from '../model/cidr.js';

interface Held {
  readonly prefix: Prefix;
  refs: number;
}

/** Reference-counted policy prefixes. */
export class PrefixSet {
  private readonly held = new Map<string, Held>();
  private readonly byLen: Record<Family, Map<number, Set<bigint>>> = { 4: new Map(), 6: new Map() };

  /** Takes a reference; true when the prefix is new. */
  add(p: Prefix): boolean {
    const key = formatPrefix(p);
    const h = this.held.get(key);
    if (h) {
      h.refs++;
      return false;
    }
    this.held.set(key, { prefix: p, refs: 1 });
    let s = this.byLen[p.family].get(p.len);
    if (!s) this.byLen[p.family].set(p.len, (s = new Set()));
    s.add(p.addr);
    return true;
  }

  /** Drops a reference; true when the prefix is gone. */
  remove(p: Prefix): boolean {
    const key = formatPrefix(p);
    const h = this.held.get(key);
    if (!h) return false;
    if (--h.refs > 0) return false;
    this.held.delete(key);
    const s = this.byLen[p.family].get(p.len);
    s?.delete(p.addr);
    if (s && s.size === 0) this.byLen[p.family].delete(p.len);
    return true;
  }

  /** True when the prefix is held. */
  has(p: Prefix): boolean {
    return this.held.has(formatPrefix(p));
  }

  /**
   * The held prefixes that contain `target` (itself included), shortest first, formatted.
   * This is the `cidr:` part of the identity of any address inside `target`.
   */
  containing(target: Prefix): string[] {
    const out: string[] = [];
    const bits = BigInt(familyBits(target.family));
    const lens = [...this.byLen[target.family].keys()]
      .filter((l) => l <= target.len)
      .sort((a, b) => a - b);
    for (const len of lens) {
      const m = len === 0 ? 0n : ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(len))) - 1n);
      const addr = target.addr & m;
      if (this.byLen[target.family].get(len)?.has(addr))
        out.push(formatPrefix({ family: target.family, addr, len }));
    }
    return out;
  }
}
