/**
 * Longest-prefix lookup over the ipcache of a compiled state, as the kernel's LPM trie
 * does it. An address that matches no prefix has the `world` identity.
 */
import { familyBits, parseAddress, parsePrefix, type Address, type Family } from '../model/cidr.js';
import { Reserved } from '../identity/reserved.js';

/** An LPM index over `prefix → identity`. */
export class IpcacheIndex {
  private readonly byLen: Record<Family, Map<number, Map<bigint, number>>> = {
    4: new Map(),
    6: new Map(),
  };
  private readonly lens: Record<Family, number[]> = { 4: [], 6: [] };

  constructor(ipcache: ReadonlyMap<string, number>) {
    for (const [text, id] of ipcache) {
      const p = parsePrefix(text);
      if (!p) continue;
      let m = this.byLen[p.family].get(p.len);
      if (!m) this.byLen[p.family].set(p.len, (m = new Map<bigint, number>()));
      m.set(p.addr, id);
    }
    for (const f of [4, 6] as const) this.lens[f] = [...this.byLen[f].keys()].sort((a, b) => b - a);
  }

  /** The identity of an address and the length of the prefix that matched (world, no length, when none did). */
  lookup(addr: Address | string): { identity: number; prefixLen?: number } {
    const a = typeof addr === 'string' ? parseAddress(addr) : addr;
    if (!a) return { identity: Reserved.World };
    const bits = BigInt(familyBits(a.family));
    for (const len of this.lens[a.family]) {
      const m = len === 0 ? 0n : ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(len))) - 1n);
      const id = this.byLen[a.family].get(len)?.get(a.addr & m);
      if (id !== undefined) return { identity: id, prefixLen: len };
    }
    return { identity: Reserved.World };
  }
}
