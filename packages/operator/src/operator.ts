/**
 * The operator: leader election, and while leading, informers → one work queue →
 * controllers → the incremental compiler → compiled deltas.
 *
 * One leadership term builds everything from scratch (caches, compiler, controllers) and
 * throws it away when the term ends, so a replica that lost the lease never acts on stale
 * state. Start-up of a term: list every resource, then queue namespaces, nodes, pods and
 * policies in that order (so pods get their final labels on the first pass), drain the
 * queue once (the operator is then ready), and only then start identity GC (so nothing in
 * use is ever marked unused because its pod had not been seen yet).
 */
import { PolicyEngine, type CompiledDelta, type LabelFilterConfig } from '@palisade/core';
import { ClusterController } from './controllers/clusterController.js';
import type { ControllerContext, Informers } from './controllers/context.js';
import { PolicyController } from './controllers/policyController.js';
import { parseQueueKey, queueKey, type KeyKind } from './controllers/queueKeys.js';
import { IdentityManager } from './identity/identityManager.js';
import type { IdentityStore } from './identity/store.js';
import type { KubeClient } from './kube/client.js';
import { EventRecorder } from './kube/events.js';
import { Informer } from './kube/informer.js';
import { objectKey as keyOf, type KubeObject } from './kube/kubeObject.js';
import { LeaderElector } from './kube/leaderElection.js';
import { Resources, type Resource } from './kube/resources.js';
import { WorkQueue } from './kube/workQueue.js';
import { errorMessage, silentLogger, type Logger } from './log.js';
import type { OperatorMetrics } from './metrics.js';

/** A compiled delta with what caused it. */
export interface DeltaEvent {
  readonly delta: CompiledDelta;
  /** Policy keys whose change this delta contains, with when each change was seen. */
  readonly policies: readonly { key: string; seenAt: number }[];
  readonly at: number;
}

/** Hooks on the leadership terms of this replica (distribution follows them). */
export interface TermListener {
  /** A term started; its compiler is empty and will be fed. */
  started(engine: PolicyEngine): void;
  /** The term's first pass over the cluster is compiled. */
  ready(): void;
  /** The term ended (leadership lost or shutdown). */
  ended(): void;
}

/** Options of the operator. */
export interface OperatorOptions {
  readonly client: KubeClient;
  readonly store: IdentityStore;
  readonly metrics: OperatorMetrics;
  /** The operator's namespace (lease, identity counter, events about cluster objects). */
  readonly namespace: string;
  /** This replica's name in the lease. */
  readonly identity: string;
  readonly leaseName?: string;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly identityGraceMs?: number;
  readonly identityGcIntervalMs?: number;
  readonly highCardinalityThreshold?: number;
  readonly labelFilter?: LabelFilterConfig;
  /** Concurrent reconciles (default 8). Each key is still processed one at a time. */
  readonly workers?: number;
  readonly logger?: Logger;
}

/** What a leadership term holds. */
interface Term {
  readonly engine: PolicyEngine;
  readonly identities: IdentityManager;
  readonly informers: Informers;
  readonly queue: WorkQueue;
  ready: boolean;
}

/** The operator. */
export class Operator {
  private term: Term | undefined;
  private readonly listeners: ((e: DeltaEvent) => void)[] = [];
  private readonly termListeners: TermListener[] = [];
  private readonly log: Logger;
  private stopping = false;
  private elector: LeaderElector | undefined;

  constructor(private readonly o: OperatorOptions) {
    this.log = o.logger ?? silentLogger;
  }

  /** Subscribes to compiled deltas (leader only). */
  onDelta(listener: (e: DeltaEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Subscribes to leadership terms. */
  onTerm(listener: TermListener): void {
    this.termListeners.push(listener);
  }

  /** The informers of the current term (leader only). */
  get informers(): Informers | undefined {
    return this.term?.informers;
  }

  /** The current leader's name, as the lease says. */
  get leader(): string | undefined {
    return this.elector?.leader;
  }

  private emitTerm(what: 'started' | 'ready' | 'ended', engine?: PolicyEngine): void {
    for (const l of this.termListeners) {
      try {
        if (what === 'started') l.started(engine as PolicyEngine);
        else l[what]();
      } catch (err) {
        this.log.error('term listener threw', { error: errorMessage(err) });
      }
    }
  }

  /** The compiler of the current term (leader only). */
  get engine(): PolicyEngine | undefined {
    return this.term?.engine;
  }

  /** The identity manager of the current term (leader only). */
  get identities(): IdentityManager | undefined {
    return this.term?.identities;
  }

  /** True while this replica leads. */
  get isLeader(): boolean {
    return this.elector?.isLeader ?? false;
  }

  /** Ready: a standby always; a leader once its first pass over the cluster is compiled. */
  ready(): { ok: boolean; detail: string } {
    if (this.stopping) return { ok: false, detail: 'shutting down' };
    if (!this.isLeader)
      return { ok: true, detail: `standby (leader: ${this.elector?.leader ?? 'none'})` };
    return this.term?.ready
      ? { ok: true, detail: 'leader, synced' }
      : { ok: false, detail: 'leader, syncing' };
  }

  /** Runs until `signal` aborts, then shuts down gracefully (releasing the lease). */
  async run(signal: AbortSignal): Promise<void> {
    let current: Promise<void> = Promise.resolve();
    this.elector = new LeaderElector({
      client: this.o.client,
      namespace: this.o.namespace,
      name: this.o.leaseName ?? 'palisade-operator',
      identity: this.o.identity,
      logger: this.log,
      ...(this.o.leaseDurationSeconds !== undefined
        ? { leaseDurationSeconds: this.o.leaseDurationSeconds }
        : {}),
      ...(this.o.renewDeadlineMs !== undefined ? { renewDeadlineMs: this.o.renewDeadlineMs } : {}),
      ...(this.o.retryPeriodMs !== undefined ? { retryPeriodMs: this.o.retryPeriodMs } : {}),
      onStartedLeading: (lead) => {
        this.o.metrics.isLeader.set(1);
        current = this.lead(lead).catch((err: unknown) =>
          this.log.error('leadership term failed', { error: errorMessage(err) }),
        );
      },
      onStoppedLeading: () => this.o.metrics.isLeader.set(0),
      onNewLeader: (id) => this.log.info('leader is', { leader: id }),
    });
    signal.addEventListener('abort', () => (this.stopping = true), { once: true });
    await this.elector.run(signal);
    await current;
  }

  /** One leadership term. Resolves when `signal` aborts and everything has stopped. */
  private async lead(signal: AbortSignal): Promise<void> {
    const o = this.o;
    const log = this.log;
    const metrics = o.metrics;
    const storeKind = o.store.kind;
    const identities = new IdentityManager({
      store: o.store,
      logger: log,
      ...(o.identityGraceMs !== undefined ? { graceMs: o.identityGraceMs } : {}),
      ...(o.identityGcIntervalMs !== undefined ? { gcIntervalMs: o.identityGcIntervalMs } : {}),
      ...(o.highCardinalityThreshold !== undefined
        ? { highCardinalityThreshold: o.highCardinalityThreshold }
        : {}),
      hooks: {
        allocated: (_id, ms) => {
          metrics.identitiesAllocated.inc({ store: storeKind });
          metrics.identityStoreSeconds.observe({ store: storeKind }, ms / 1000);
        },
        freed: (ids) => metrics.identitiesFreed.inc({ store: storeKind }, ids.length),
        storeError: (op) => metrics.identityStoreErrors.inc({ store: storeKind, op }),
        highCardinality: (labelKey, n, example) => {
          metrics.highCardinalityLabels.inc({ label_key: labelKey });
          events.record(
            {
              apiVersion: 'v1',
              kind: 'Namespace',
              name: example.namespace,
              namespace: example.namespace,
            },
            'Warning',
            'HighCardinalityLabel',
            `pod label "${labelKey}" has produced ${n} identities (threshold ${o.highCardinalityThreshold ?? 256}); exclude it from identities if it is not needed by policy`,
            example.namespace,
          );
        },
      },
    });
    const engine = new PolicyEngine({
      numbering: identities,
      ...(o.labelFilter ? { labelFilter: o.labelFilter } : {}),
    });
    const mk = (resource: Resource): Informer<KubeObject> =>
      new Informer<KubeObject>({
        client: o.client,
        resource,
        logger: log,
        hooks: {
          listed: () => metrics.informerRelists.inc({ resource: resource.plural }),
          failed: () => metrics.informerFailures.inc({ resource: resource.plural }),
        },
      });
    const informers: Informers = {
      namespaces: mk(Resources.namespaces),
      pods: mk(Resources.pods),
      nodes: mk(Resources.nodes),
      networkPolicies: mk(Resources.networkPolicies),
      palisadeNetworkPolicies: mk(Resources.palisadeNetworkPolicies),
      palisadeClusterNetworkPolicies: mk(Resources.palisadeClusterNetworkPolicies),
    };
    const queue = new WorkQueue({
      name: 'cluster',
      logger: log,
      hooks: {
        depth: (n) => metrics.queueDepth.set(n),
        retried: () => metrics.queueRetries.inc(),
        processed: (key, ms, ok) => {
          const kind = parseQueueKey(key).kind;
          metrics.reconciles.inc({ kind, result: ok ? 'ok' : 'error' });
          metrics.reconcileSeconds.observe({ kind }, ms / 1000);
        },
      },
    });
    const events = new EventRecorder(o.client, 'palisade-operator', {
      logger: log,
      defaultNamespace: o.namespace,
    });
    const term: Term = { engine, identities, informers, queue, ready: false };
    this.term = term;
    this.emitTerm('started', engine);
    metrics.compiledSizes = () => {
      if (this.term !== term) return undefined;
      let policyEntries = 0;
      for (const m of engine.compiled.policy.values()) policyEntries += m.size;
      return {
        policyEntries,
        ipcacheEntries: engine.compiled.ipcache.size,
        identitiesInUse: identities.inUse,
      };
    };

    const seenAt = new Map<string, number>();
    let pending: { key: string; seenAt: number }[] = [];
    let flushScheduled = false;
    const flush = (): void => {
      flushScheduled = false;
      const policies = pending;
      pending = [];
      const delta = engine.flush();
      const at = Date.now();
      for (const p of policies) metrics.deltaSeconds.observe((at - p.seenAt) / 1000);
      const ev: DeltaEvent = { delta, policies, at };
      for (const l of this.listeners) {
        try {
          l(ev);
        } catch (err) {
          log.error('delta listener threw', { error: errorMessage(err) });
        }
      }
    };
    const ctx: ControllerContext = {
      engine,
      identities,
      informers,
      client: o.client,
      events,
      metrics,
      log,
      changed: (policy) => {
        if (policy) pending.push(policy);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      },
    };
    const cluster = new ClusterController(ctx);
    const policies = new PolicyController(ctx);

    let started = false;
    const enqueue = (kind: KeyKind, key: string): void => {
      const qk = queueKey(kind, key);
      if (!seenAt.has(qk)) seenAt.set(qk, Date.now());
      if (started) queue.add(qk);
    };
    // Queue-key kind of each informer, in the order a new term queues them.
    const feeds: [KeyKind, Informer<KubeObject>][] = [
      ['ns', informers.namespaces],
      ['node', informers.nodes],
      ['pod', informers.pods],
      ['np', informers.networkPolicies],
      ['pnp', informers.palisadeNetworkPolicies],
      ['pcnp', informers.palisadeClusterNetworkPolicies],
    ];
    for (const [kind, inf] of feeds) inf.on((e) => enqueue(kind, e.key));

    const all = Object.entries(informers) as [string, Informer<KubeObject>][];
    const runs = all.map(([, inf]) => inf.run(signal));

    const handler = async (qk: string): Promise<void> => {
      const { kind, objectKey } = parseQueueKey(qk);
      const seen = seenAt.get(qk) ?? Date.now();
      seenAt.delete(qk);
      switch (kind) {
        case 'ns':
          return cluster.namespace(objectKey);
        case 'pod':
          return cluster.pod(objectKey);
        case 'node':
          cluster.node(objectKey);
          return;
        case 'np':
        case 'pnp':
        case 'pcnp':
          return policies.reconcile(kind, objectKey, seen);
      }
    };
    const workers = queue.run(handler, o.workers ?? 8);

    await Promise.race([Promise.all(all.map(([, inf]) => inf.synced)), abortPromise(signal)]);
    let gc: Promise<void> = Promise.resolve();
    if (!signal.aborted) {
      log.info('caches synced', Object.fromEntries(all.map(([n, inf]) => [n, inf.size])));
      started = true;
      for (const [kind, inf] of feeds)
        for (const x of inf.list()) queue.add(queueKey(kind, keyOf(x)));
      await waitIdle(queue, signal);
      if (!signal.aborted) {
        term.ready = true;
        this.emitTerm('ready');
        log.info('initial compile done', {
          pods: informers.pods.size,
          identities: identities.inUse,
          policies:
            informers.networkPolicies.size +
            informers.palisadeNetworkPolicies.size +
            informers.palisadeClusterNetworkPolicies.size,
          policyGroups: engine.compiled.policy.size,
        });
        gc = identities.run(signal);
      }
    }
    await abortPromise(signal);
    queue.shutDown();
    await Promise.all([workers, gc, ...runs]);
    await identities.idle();
    if (this.term === term) this.term = undefined;
    this.emitTerm('ended');
    log.info('leadership term ended');
  }
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function waitIdle(queue: WorkQueue, signal: AbortSignal): Promise<void> {
  while (!signal.aborted && !queue.idle) await new Promise((r) => setTimeout(r, 20));
}
