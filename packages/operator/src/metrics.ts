/** The operator's Prometheus metrics (prom-client), on one registry per operator. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Sizes of the compiled state, computed when metrics are scraped. */
export interface CompiledSizes {
  readonly policyEntries: number;
  readonly ipcacheEntries: number;
  readonly identitiesInUse: number;
}

/** Every metric the operator exports. */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly isLeader = new Gauge({
    name: 'palisade_operator_leader',
    help: '1 while this replica holds the leader lease.',
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'palisade_operator_reconciles_total',
    help: 'Reconciles by kind and result.',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'palisade_operator_reconcile_seconds',
    help: 'Time to reconcile one key.',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'palisade_operator_queue_depth',
    help: 'Keys waiting in the work queue.',
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'palisade_operator_queue_retries_total',
    help: 'Keys re-queued after a failed reconcile.',
    registers: [this.registry],
  });
  readonly informerRelists = new Counter({
    name: 'palisade_operator_informer_lists_total',
    help: 'Full lists per resource (the first, and after 410 Gone).',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });
  readonly informerFailures = new Counter({
    name: 'palisade_operator_informer_failures_total',
    help: 'Failed lists or watches per resource (retried with backoff).',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });
  readonly identitiesAllocated = new Counter({
    name: 'palisade_identities_allocated_total',
    help: 'Identity numbers obtained from the store.',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  readonly identityStoreSeconds = new Histogram({
    name: 'palisade_identity_store_seconds',
    help: 'Latency of identity allocations in the store.',
    labelNames: ['store'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly identitiesFreed = new Counter({
    name: 'palisade_identities_freed_total',
    help: 'Identities freed by GC after their grace period.',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  readonly identityStoreErrors = new Counter({
    name: 'palisade_identity_store_errors_total',
    help: 'Failed identity store calls (retried).',
    labelNames: ['store', 'op'] as const,
    registers: [this.registry],
  });
  /** Where the sizes of the compiled state come from (read at scrape time, not per change). */
  compiledSizes: (() => CompiledSizes | undefined) | undefined;
  readonly identitiesInUse = this.sizeGauge(
    'palisade_identities_in_use',
    'Identities referenced by at least one pod.',
    'identitiesInUse',
  );
  readonly highCardinalityLabels = new Counter({
    name: 'palisade_identity_high_cardinality_labels_total',
    help: 'Pod label keys reported for producing more identities than the threshold.',
    labelNames: ['label_key'] as const,
    registers: [this.registry],
  });
  readonly policiesInvalid = new Gauge({
    name: 'palisade_policies_invalid',
    help: 'Policies whose current generation is invalid (Valid=False).',
    registers: [this.registry],
  });
  readonly policyEntries = this.sizeGauge(
    'palisade_compiled_policy_entries',
    'Entries in the compiled policy map.',
    'policyEntries',
  );
  readonly ipcacheEntries = this.sizeGauge(
    'palisade_compiled_ipcache_entries',
    'Entries in the compiled ipcache.',
    'ipcacheEntries',
  );
  readonly deltaSeconds = new Histogram({
    name: 'palisade_policy_compile_seconds',
    help: 'From a policy change seen by the operator to its compiled delta.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly propagationSeconds = new Histogram({
    name: 'palisade_policy_propagation_seconds',
    help: 'From a policy change seen by the operator to its acknowledgement by a node (in the kernel).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly streams = new Gauge({
    name: 'palisade_distribution_streams',
    help: 'Open node streams.',
    registers: [this.registry],
  });
  readonly streamsRefused = new Counter({
    name: 'palisade_distribution_refused_total',
    help: 'Streams or calls refused, by reason (no-certificate, untrusted, expired, wrong-node, not-leader, …).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly resyncs = new Counter({
    name: 'palisade_distribution_snapshots_total',
    help: 'Full snapshots sent to nodes, by reason (new, gap, slow, requested).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly frameBytes = new Counter({
    name: 'palisade_distribution_sent_bytes_total',
    help: 'Bytes of frames written to node streams, by kind (delta, snapshot).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly revision = new Gauge({
    name: 'palisade_distribution_revision',
    help: 'The current distribution revision of this leadership term.',
    registers: [this.registry],
  });

  private sizeGauge(name: string, help: string, field: keyof CompiledSizes): Gauge {
    const sizes = (): CompiledSizes | undefined => this.compiledSizes?.();
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        const s = sizes();
        if (s) this.set(s[field]);
      },
    });
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
