/**
 * Small tools the operator benchmark shares: percentiles, a bounded-concurrency runner with
 * progress on stderr, and per-process RSS / CPU time read from `/proc`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Writes one progress line to stderr, prefixed with the seconds since the benchmark began. */
export function progress(line: string): void {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

/** Summary of a sample of durations (ms). Percentiles use the nearest-rank method. */
export interface LatencyStats {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** The nearest-rank percentile `q` (0–1] of `sorted` (ascending); 0 for an empty sample. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? 0;
}

/** p50/p90/p99/max/mean of `xs`. */
export function latencyStats(xs: readonly number[]): LatencyStats {
  const s = [...xs].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    max: s[s.length - 1] ?? 0,
    mean: s.length > 0 ? sum / s.length : 0,
  };
}

/** `1234.5` → `"1,235"`. */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A ratio as `0.42×`. */
export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(r < 0.1 ? 3 : 2)}×` : 'n/a';
}

/** Milliseconds with a precision that suits their size. */
export function fmtMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 100 ? `${ms.toFixed(1)} ms` : `${fmtInt(ms)} ms`;
}

/** A latency summary on one line. */
export function fmtStats(s: LatencyStats): string {
  return `p50 ${fmtMs(s.p50)}  p90 ${fmtMs(s.p90)}  p99 ${fmtMs(s.p99)}  max ${fmtMs(s.max)}  (n=${s.n})`;
}

/**
 * Runs `task(i)` for i in [0, n) with at most `concurrency` in flight, reporting progress on
 * stderr every `everyMs`. Rejects with the first failure once the tasks in flight settled.
 * Returns the wall time in ms.
 */
export async function runPool(
  what: string,
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
  everyMs = 3000,
): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let failure: unknown;
  const timer = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    progress(`${what}: ${fmtInt(done)}/${fmtInt(n)} (${fmtInt(done / s)}/s)`);
  }, everyMs);
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < n) {
      const i = next++;
      try {
        await task(i);
        done++;
      } catch (err) {
        failure ??= err;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, () => worker()));
  } finally {
    clearInterval(timer);
  }
  if (failure !== undefined)
    throw failure instanceof Error ? failure : new Error(`${what} failed`, { cause: failure });
  return performance.now() - t0;
}

let clockTicks: number | undefined;

/** The kernel's clock ticks per second (`getconf CLK_TCK`, 100 if it cannot be read). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      clockTicks = 100;
    }
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100;
  }
  return clockTicks;
}

/** Memory and CPU of one process, from `/proc/<pid>/status` and `/proc/<pid>/stat`. */
export interface ProcSample {
  /** Resident set size now (VmRSS), MiB. */
  readonly rssMiB: number;
  /** Peak resident set size (VmHWM), MiB. */
  readonly peakRssMiB: number;
  /** User + system CPU time since the process started, seconds. */
  readonly cpuSeconds: number;
}

/** Reads {@link ProcSample} for `pid`; throws when the process is gone. */
export function procSample(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
  return {
    rssMiB: kib('VmRSS') / 1024,
    peakRssMiB: kib('VmHWM') / 1024,
    cpuSeconds: ticks / ticksPerSecond(),
  };
}
