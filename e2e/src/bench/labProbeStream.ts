/**
 * A continuous TCP probe from one pod to one target, for the lab benchmark: a probe is
 * launched every `intervalMs` on whichever of a few `palisade-probe-agent`s in the source
 * pod is idle (an agent runs one command at a time, and a dropped probe holds its agent for
 * the whole timeout), so the time resolution stays at the interval whether probes pass in a
 * millisecond or time out.
 *
 * Every probe is kept with the moment it was launched (`performance.now()`). A change is
 * "observed" at the launch of the first probe, launched after a given instant, that shows the
 * new verdict and is followed by `confirm - 1` more probes showing it too (so that one
 * probe timing out on a busy machine is not taken for a deny). A verdict that appeared and
 * reverted before it was confirmed is counted as a flap.
 */
import { performance } from 'node:perf_hooks';
import { defaultAgentPath, ProbeAgent } from '@palisade/shim/testing';

/** One probe. */
interface Sample {
  /** `performance.now()` when the probe was handed to its agent. */
  readonly start: number;
  /** `ip:port`. */
  readonly target: string;
  /** Undefined while the probe runs. */
  ok?: boolean;
  error?: string;
  /** The agent broke during this probe: it tells nothing either way. */
  void?: boolean;
}

/** What {@link ProbeStream.observe} found. */
export interface Observation {
  /** Launch of the first probe of the confirmed run, or undefined when the deadline passed. */
  readonly at: number | undefined;
  /** The new verdict showed and reverted before it was confirmed, this many times. */
  readonly flaps: number;
  /** Probes launched after `since` that still showed the old verdict, before the run. */
  readonly before: number;
  /** The last error seen on a failed probe (e.g. `timeout`), for the report. */
  readonly lastError: string | undefined;
}

interface Waiter {
  readonly want: boolean;
  readonly target: string;
  readonly confirm: number;
  /** Index of the first sample to look at. */
  next: number;
  runStart: number;
  runLength: number;
  flaps: number;
  before: number;
  lastError: string | undefined;
  readonly resolve: (o: Observation) => void;
  readonly timer: NodeJS.Timeout;
}

/** Options of {@link ProbeStream.start}. */
export interface ProbeStreamOptions {
  /** The source pod's network namespace. */
  readonly netns: string;
  /** Agents in the source pod (default 4). */
  readonly agents?: number;
  /** A probe is launched this often (default 15 ms). */
  readonly intervalMs?: number;
  /** How long one probe waits for its echo (default 50 ms). */
  readonly timeoutMs?: number;
}

/** Continuous probes from one pod. */
export class ProbeStream {
  private readonly samples: Sample[] = [];
  private readonly idle: ProbeAgent[];
  private readonly waiters = new Set<Waiter>();
  private target: { ip: string; port: number; key: string } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticks = 0;
  /** Probes launched. */
  launched = 0;
  /** Ticks at which every agent was busy (no probe launched). */
  skipped = 0;
  /** Agent failures (not probe failures: the agent itself broke). */
  agentErrors = 0;

  private constructor(
    private readonly agents: ProbeAgent[],
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {
    this.idle = [...agents];
  }

  /** Starts the agents in the source pod; no probe runs until {@link ProbeStream.aim}. */
  static async start(o: ProbeStreamOptions): Promise<ProbeStream> {
    const n = o.agents ?? 4;
    const agents = await Promise.all(
      Array.from({ length: n }, () => ProbeAgent.start(o.netns, defaultAgentPath())),
    );
    const s = new ProbeStream(agents, o.intervalMs ?? 15, o.timeoutMs ?? 50);
    s.schedule(performance.now());
    return s;
  }

  /**
   * Probes `ip:port` from now on, the first probe at once (probes still running to an
   * earlier target finish, and do not count for it).
   */
  aim(ip: string, port: number): void {
    this.target = { ip, port, key: `${ip}:${port}` };
    this.tick(); // the first probe now, not at the next tick
  }

  /** Stops probing (until the next {@link ProbeStream.aim}). */
  pause(): void {
    this.target = undefined;
  }

  /**
   * Resolves at the first confirmed run of `want` among the probes to the current target
   * launched at or after `since` (see the module comment), or with `at` undefined after
   * `deadlineMs`.
   */
  observe(
    want: boolean,
    since: number,
    o: { confirm?: number; deadlineMs?: number } = {},
  ): Promise<Observation> {
    const target = this.target?.key;
    if (target === undefined) throw new Error('ProbeStream.observe: no target (call aim first)');
    let first = this.samples.length;
    while (first > 0 && (this.samples[first - 1]?.start ?? 0) >= since) first--;
    return new Promise((resolve) => {
      const w: Waiter = {
        want,
        target,
        confirm: o.confirm ?? 3,
        next: first,
        runStart: -1,
        runLength: 0,
        flaps: 0,
        before: 0,
        lastError: undefined,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          resolve({ at: undefined, flaps: w.flaps, before: w.before, lastError: w.lastError });
        }, o.deadlineMs ?? 20_000),
      };
      this.waiters.add(w);
      this.check(w);
    });
  }

  /** Forgets the probes launched before `before` (keeps the sample list short). */
  trim(before: number): void {
    let n = 0;
    while (n < this.samples.length && (this.samples[n]?.start ?? Infinity) < before) n++;
    if (n === 0) return;
    // Only when no waiter still reads them.
    for (const w of this.waiters) if (w.next < n) return;
    this.samples.splice(0, n);
    for (const w of this.waiters) w.next -= n;
  }

  /** Stops the timer and closes the agents. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve({ at: undefined, flaps: w.flaps, before: w.before, lastError: w.lastError });
    }
    this.waiters.clear();
    await Promise.all(this.agents.map((a) => a.close().catch(() => undefined)));
  }

  /** Fixed-rate ticks: the n-th tick is due at t0 + n × interval (late ticks do not drift). */
  private schedule(t0: number): void {
    if (this.stopped) return;
    const due = t0 + ++this.ticks * this.intervalMs;
    this.timer = setTimeout(
      () => {
        this.tick();
        this.schedule(t0);
      },
      Math.max(0, due - performance.now()),
    );
  }

  private tick(): void {
    const t = this.target;
    if (!t) return;
    const agent = this.idle.pop();
    if (!agent) {
      this.skipped++;
      return;
    }
    const s: Sample = { start: performance.now(), target: t.key };
    this.samples.push(s);
    this.launched++;
    agent.probe('tcp', t.ip, t.port, { timeoutMs: this.timeoutMs }).then(
      (r) => {
        s.ok = r.ok;
        if (r.error !== undefined) s.error = r.error;
        this.idle.push(agent);
        this.settled();
      },
      (err: unknown) => {
        // The agent broke (it is not put back): the probe tells nothing either way.
        this.agentErrors++;
        s.void = true;
        s.error = `agent: ${err instanceof Error ? err.message : String(err)}`;
        this.settled();
      },
    );
  }

  private settled(): void {
    for (const w of [...this.waiters]) this.check(w);
  }

  private check(w: Waiter): void {
    for (; w.next < this.samples.length; w.next++) {
      const s = this.samples[w.next];
      if (!s || s.void || s.target !== w.target) continue;
      if (s.ok === undefined) return; // still running: the order of verdicts is not known yet
      if (!s.ok) w.lastError = s.error;
      if (s.ok === w.want) {
        if (w.runLength === 0) w.runStart = s.start;
        if (++w.runLength >= w.confirm) {
          this.waiters.delete(w);
          clearTimeout(w.timer);
          w.next++;
          w.resolve({ at: w.runStart, flaps: w.flaps, before: w.before, lastError: w.lastError });
          return;
        }
      } else {
        if (w.runLength > 0) w.flaps++;
        w.before += w.runLength + 1;
        w.runLength = 0;
      }
    }
  }
}
