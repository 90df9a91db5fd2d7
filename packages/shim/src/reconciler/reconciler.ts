/**
 * Brings the kernel maps to a desired content: diffs against what the kernel holds,
 * checks capacity before touching anything, and applies in an order that never opens or
 * closes more than the two states on either side of the change allow:
 *
 *   1. policy upserts   (new identities' entries exist before anything points at them)
 *   2. ipcache upserts
 *   3. endpoint upserts (identity / isolation switches)
 *   4. endpoint removals, 5. ipcache removals, 6. policy removals (nothing points at them)
 *   7. bump the policy epoch, so tracked flows re-check for a new deny.
 *
 * The reconciler remembers what it wrote (`believed`, packed tables); `resync` re-reads the
 * kernel, so a map changed behind the shim's back (drift) is repaired on the next resync.
 */
import { ShimError } from '../errors.js';
import type { Datapath } from '../bpf/datapath.js';
import type { KernelMap } from '../bpf/maps.js';
import { EntryTable } from '../bpf/entryTable.js';
import { configValue } from '../bpf/layouts.js';
import {
  countDifferences,
  diffSize,
  diffTables,
  type MapDiff,
  type PackedEntries,
  type PackedKeys,
} from './diff.js';
import type { DesiredMaps } from './desired.js';

/** What one apply did. */
export interface ApplyResult {
  /** Entries written, per map. */
  readonly upserts: { ipcache: number; policy: number; endpoints: number };
  /** Entries deleted, per map. */
  readonly removes: { ipcache: number; policy: number; endpoints: number };
  /** True when the kernel was re-read first (resync). */
  readonly resynced: boolean;
  /** Entries found different from what the shim had written (drift), when resynced. */
  readonly drift: number;
  readonly ms: number;
  readonly epoch: number;
}

type Managed = 'ipcache' | 'policy' | 'endpoints';
const MANAGED: readonly Managed[] = ['ipcache', 'policy', 'endpoints'];

/** Keeps one node's maps equal to a desired content. */
export class Reconciler {
  private believed: Record<Managed, EntryTable> | undefined;
  /**
   * Tables a resync reads the kernel into, swapped with `believed` afterwards: the two
   * sets alternate, so a periodic resync allocates nothing once they have their size.
   */
  private spare: Record<Managed, EntryTable> | undefined;
  private epoch = 0;

  constructor(private readonly dp: Datapath) {}

  /** The policy epoch last written. */
  get policyEpoch(): number {
    return this.epoch;
  }

  /** What the shim believes the kernel holds (after the last apply). */
  believedCount(): Record<Managed, number> {
    const b = this.believed;
    return {
      ipcache: b?.ipcache.size ?? 0,
      policy: b?.policy.size ?? 0,
      endpoints: b?.endpoints.size ?? 0,
    };
  }

  /**
   * Makes the kernel hold `desired`. Throws MAP_OVERFLOW, changing nothing, when a map
   * would exceed its capacity. With `resync`, re-reads the kernel first.
   */
  apply(desired: DesiredMaps, opts: { resync?: boolean } = {}): ApplyResult {
    const t0 = performance.now();
    for (const m of MANAGED) {
      const km = this.kmap(m);
      if (desired[m].size > km.capacity)
        throw new ShimError(
          'MAP_OVERFLOW',
          `the compiled policy needs ${desired[m].size} entries in ${km.name}, which holds ${km.capacity}; ` +
            `nothing was changed (raise the shim's --capacity-${m} and restart it with a fresh pin directory, or reduce the policy)`,
        );
    }
    const resynced = opts.resync === true || this.believed === undefined;
    let drift = 0;
    if (resynced) {
      const actual = this.readKernel();
      if (this.believed)
        for (const m of MANAGED) drift += countDifferences(this.believed[m], actual[m]);
      this.swapIn(actual);
      if (this.epoch === 0) this.epoch = this.readEpoch();
    }
    const believed = this.believed as Record<Managed, EntryTable>;
    const diffs: Record<Managed, MapDiff> = {
      ipcache: diffTables(desired.ipcache, believed.ipcache),
      policy: diffTables(desired.policy, believed.policy),
      endpoints: diffTables(desired.endpoints, believed.endpoints),
    };
    const changed = MANAGED.some((m) => diffSize(diffs[m]) > 0);
    try {
      this.write('policy', diffs.policy.upsert);
      this.write('ipcache', diffs.ipcache.upsert);
      this.write('endpoints', diffs.endpoints.upsert);
      this.remove('endpoints', diffs.endpoints.remove);
      this.remove('ipcache', diffs.ipcache.remove);
      this.remove('policy', diffs.policy.remove);
    } catch (e) {
      this.believed = undefined; // unknown now: the next apply re-reads the kernel
      throw e;
    }
    if (changed) this.writeEpoch(this.epoch + 1);
    return {
      upserts: {
        ipcache: diffs.ipcache.upsert.count,
        policy: diffs.policy.upsert.count,
        endpoints: diffs.endpoints.upsert.count,
      },
      removes: {
        ipcache: diffs.ipcache.remove.count,
        policy: diffs.policy.remove.count,
        endpoints: diffs.endpoints.remove.count,
      },
      resynced,
      drift,
      ms: performance.now() - t0,
      epoch: this.epoch,
    };
  }

  /** Reads what the kernel holds, without changing anything. */
  adopt(): void {
    this.swapIn(this.readKernel());
    this.epoch = this.readEpoch();
  }

  /** Writes the flow-event rate limit (events per second per CPU, and burst). */
  setEventRate(perSec: number, burst: number): void {
    this.writeConfig(this.readEpoch(), perSec, burst);
  }

  /** Reads the kernel maps into the spare tables (the believed ones stay as they were). */
  private readKernel(): Record<Managed, EntryTable> {
    const into = (this.spare ??= {
      ipcache: new EntryTable(this.dp.ipcache.keySize, this.dp.ipcache.valueSize),
      policy: new EntryTable(this.dp.policy.keySize, this.dp.policy.valueSize),
      endpoints: new EntryTable(this.dp.endpoints.keySize, this.dp.endpoints.valueSize),
    });
    for (const m of MANAGED) this.kmap(m).dumpInto(into[m]);
    return into;
  }

  /** Makes `tables` the believed contents; the previous ones become the spares. */
  private swapIn(tables: Record<Managed, EntryTable>): void {
    this.spare = this.believed;
    this.believed = tables;
  }

  private kmap(m: Managed): KernelMap {
    return this.dp[m];
  }

  private write(m: Managed, entries: PackedEntries): void {
    if (entries.count === 0) return;
    const km = this.kmap(m);
    km.update(entries.keys, entries.values, entries.count);
    const b = (this.believed as Record<Managed, EntryTable>)[m];
    for (let i = 0; i < entries.count; i++)
      b.set(entries.keys, i * km.keySize, entries.values, i * km.valueSize);
  }

  private remove(m: Managed, keys: PackedKeys): void {
    if (keys.count === 0) return;
    const km = this.kmap(m);
    km.delete(keys.keys, keys.count);
    const b = (this.believed as Record<Managed, EntryTable>)[m];
    for (let i = 0; i < keys.count; i++) b.delete(keys.keys, i * km.keySize);
  }

  private readConfig(): { policyEpoch: number; eventsPerSec: number; eventsBurst: number } {
    const v = this.dp.config.lookup(Buffer.alloc(4));
    return v ? configValue.decode(v, 0) : { policyEpoch: 0, eventsPerSec: 0, eventsBurst: 0 };
  }

  private readEpoch(): number {
    return this.readConfig().policyEpoch;
  }

  private writeEpoch(epoch: number): void {
    const c = this.readConfig();
    this.writeConfig(epoch, c.eventsPerSec, c.eventsBurst);
  }

  private writeConfig(epoch: number, perSec: number, burst: number): void {
    const v = Buffer.alloc(configValue.size);
    this.epoch = epoch >>> 0;
    configValue.encode(v, 0, { policyEpoch: this.epoch, eventsPerSec: perSec, eventsBurst: burst });
    this.dp.config.update(Buffer.alloc(4), v, 1);
  }
}
