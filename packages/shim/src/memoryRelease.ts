/**
 * Giving memory back after a new compiled state. Each new state makes the previous one
 * garbage, but V8 collects its old generation only when the heap grows again, so an idle
 * shim keeps a large previous state resident: measured, ~110 MiB of garbage stayed for
 * ~100 s after going from 110k to 10k policy entries (docs/benchmarks.md). After a change
 * (debounced, and at most once per interval) this runs one full collection — when node
 * runs with `--expose-gc`, as the shim's bin does — and then returns free malloc pages.
 */

/** A cancellable timer (`setTimeout` by default; tests pass their own). */
export interface ReleaseTimers {
  set(f: () => void, ms: number): unknown;
  clear(handle: unknown): void;
  now(): number;
}

/** Options of a memory releaser. */
export interface MemoryReleaseOptions {
  /** A full garbage collection (`globalThis.gc` under `--expose-gc`); skipped when absent. */
  readonly gc?: () => void;
  /** Gives free malloc pages back (`addon().mallocTrim`); skipped when absent. */
  readonly trim?: () => void;
  /** Quiet time after the last change before releasing (ms, default 1000). */
  readonly delayMs?: number;
  /** Least time between two releases (ms, default 10000): a busy source costs one per interval. */
  readonly minIntervalMs?: number;
  readonly timers?: ReleaseTimers;
}

const REAL_TIMERS: ReleaseTimers = {
  set: (f, ms) => setTimeout(f, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => performance.now(),
};

/** Releases memory some time after changes. */
export class MemoryReleaser {
  private pending: unknown;
  private last = -Infinity;
  private released = 0;

  constructor(private readonly o: MemoryReleaseOptions) {}

  /** How many releases ran. */
  get count(): number {
    return this.released;
  }

  /** Notes a change: a release runs after the quiet time, unless one is already due. */
  changed(): void {
    if (this.pending !== undefined || (!this.o.gc && !this.o.trim)) return;
    const t = this.o.timers ?? REAL_TIMERS;
    const wait = Math.max(
      this.o.delayMs ?? 1000,
      this.last + (this.o.minIntervalMs ?? 10000) - t.now(),
    );
    this.pending = t.set(() => {
      this.pending = undefined;
      this.last = t.now();
      this.released++;
      this.o.gc?.();
      this.o.trim?.();
    }, wait);
  }

  /** Cancels a pending release. */
  close(): void {
    if (this.pending !== undefined) (this.o.timers ?? REAL_TIMERS).clear(this.pending);
    this.pending = undefined;
  }
}
