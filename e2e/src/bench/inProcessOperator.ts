/**
 * An operator run in the benchmark's own process through the suites' `startOperator`, with
 * a logger that keeps count of warnings and errors so the report can show them, and a ready
 * timeout that suits a populated cluster.
 */
import type { IdentityStore, Logger, Operator, OperatorMetrics } from '@palisade/operator';
import type { ControlPlane } from '../harness/controlPlane.js';
import { startOperator } from '../operator/testCluster.js';

/** Warnings and errors an in-process operator logged. */
export interface LogTally {
  warnings: number;
  errors: number;
  /** Message → count, for the report. */
  readonly byMessage: Map<string, number>;
}

/** A logger that only counts warnings and errors (by message). */
export function tallyLogger(tally: LogTally): Logger {
  const count = (msg: string): void => {
    tally.byMessage.set(msg, (tally.byMessage.get(msg) ?? 0) + 1);
  };
  const logger: Logger = {
    debug() {},
    info() {},
    warn(msg) {
      tally.warnings++;
      count(`warn: ${msg}`);
    },
    error(msg, fields) {
      tally.errors++;
      const detail = fields?.['error'];
      count(`error: ${msg}${typeof detail === 'string' ? ` (${detail})` : ''}`);
    },
    with: () => logger,
  };
  return logger;
}

/** A running in-process operator. */
export interface BenchOperator {
  readonly operator: Operator;
  readonly metrics: OperatorMetrics;
  readonly store: IdentityStore;
  readonly tally: LogTally;
  /** Start → ready as leader with the first pass compiled, ms. */
  readonly readyMs: number;
  /** Graceful stop (releases the lease); closes the client and the store. */
  stop(): Promise<void>;
}

/** Options of {@link startBenchOperator}. */
export interface BenchOperatorOptions {
  readonly id: string;
  /** Default: the CRD store in the operator's namespace. */
  readonly store?: IdentityStore;
  readonly graceMs: number;
  readonly gcIntervalMs: number;
  readonly readyTimeoutMs: number;
}

/** Starts an operator in-process and waits until it leads and has compiled the cluster. */
export async function startBenchOperator(
  cp: ControlPlane,
  o: BenchOperatorOptions,
): Promise<BenchOperator> {
  const t0 = performance.now();
  const tally: LogTally = { warnings: 0, errors: 0, byMessage: new Map() };
  const run = await startOperator(cp, {
    id: o.id,
    ...(o.store ? { store: o.store } : {}),
    graceMs: o.graceMs,
    gcIntervalMs: o.gcIntervalMs,
    readyTimeoutMs: o.readyTimeoutMs,
    logger: tallyLogger(tally),
  });
  return {
    operator: run.operator,
    metrics: run.metrics,
    store: run.store,
    tally,
    readyMs: performance.now() - t0,
    stop: () => run.stop(),
  };
}

/** The sum over every label set of a counter or gauge of the operator's metrics. */
export async function metricTotal(m: {
  get(): Promise<{ values: readonly { value: number }[] }>;
}): Promise<number> {
  const { values } = await m.get();
  return values.reduce((a, v) => a + v.value, 0);
}
