/**
 * Waiting for the kernel to agree: probe every pair, then keep re-probing only the cells
 * that differ from what is expected until they all agree or the deadline passes (upstream's
 * NetworkPolicy suite polls the same way, since a policy takes a moment to reach the nodes).
 * A cell that never agrees is reported, with what the probe saw.
 */
import type { Lab } from './lab.js';
import { probeAll, type LabProbePort, type LabProbeResult, type ProbePod } from './prober.js';

/** The verdict expected for one probed flow, or undefined to not check it. */
export type Expect = (r: {
  from: string;
  to: string;
  port: number | string;
  protocol: string;
}) => 'allow' | 'deny' | undefined;

/** Options of {@link probeUntil}. */
export interface ProbeUntilOptions {
  /** Give up after this long (default 20 s). */
  readonly deadlineMs?: number;
  /** Timeout of one probe (default 500 ms). */
  readonly timeoutMs?: number;
  /** The pods to probe (default: every running pod of the lab). */
  readonly pods?: readonly ProbePod[];
}

/** What {@link probeUntil} ended with. */
export interface ProbeUntilResult {
  /** The last verdict of every flow. */
  readonly results: LabProbeResult[];
  /** The flows whose last verdict differs from the expected one (empty on success). */
  readonly mismatches: LabProbeResult[];
  /** How long until every cell agreed (or the deadline). */
  readonly elapsedMs: number;
  /** How many probe rounds ran. */
  readonly rounds: number;
}

/** `from>to port/PROTOCOL`. */
export const cellKey = (r: {
  from: string;
  to: string;
  port: number | string;
  protocol: string;
}): string => `${r.from}>${r.to} ${String(r.port)}/${r.protocol}`;

/** Probes until every checked flow has its expected verdict, or the deadline passes. */
export async function probeUntil(
  lab: Lab,
  ports: readonly LabProbePort[],
  expect: Expect,
  o: ProbeUntilOptions = {},
): Promise<ProbeUntilResult> {
  return probePodsUntil(o.pods ?? (await lab.probePods()), ports, expect, o);
}

/** {@link probeUntil} on the given pods (usable without a Lab object, e.g. from the CLI). */
export async function probePodsUntil(
  pods: readonly ProbePod[],
  ports: readonly LabProbePort[],
  expect: Expect,
  o: Omit<ProbeUntilOptions, 'pods'> = {},
): Promise<ProbeUntilResult> {
  const t0 = Date.now();
  const deadline = t0 + (o.deadlineMs ?? 20_000);
  const timeoutMs = o.timeoutMs ?? 500;
  const latest = new Map<string, LabProbeResult>();
  let only: Set<string> | undefined;
  let rounds = 0;
  for (;;) {
    rounds++;
    const round = await probeAll(pods, ports, { timeoutMs, ...(only ? { only } : {}) });
    for (const r of round) latest.set(cellKey(r), r);
    const mismatches = [...latest.values()].filter((r) => {
      const e = expect(r);
      return e !== undefined && e !== r.verdict;
    });
    if (mismatches.length === 0 || Date.now() > deadline)
      return { results: [...latest.values()], mismatches, elapsedMs: Date.now() - t0, rounds };
    only = new Set(mismatches.map((m) => `${m.from}>${m.to}`));
    // Re-probing a pair re-probes all its ports; cells that already agreed may be refreshed.
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One line per mismatching flow, for assertion messages. */
export function describeMismatches(ms: readonly LabProbeResult[], expect: Expect): string {
  return ms
    .map(
      (m) =>
        `${cellKey(m)}: expected ${String(expect(m))}, probe saw ${m.verdict}${m.error ? ` (${m.error})` : ''}`,
    )
    .join('\n');
}
