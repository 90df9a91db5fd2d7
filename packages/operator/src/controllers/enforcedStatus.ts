/**
 * Writes realization into the status of PalisadeNetworkPolicy and
 * PalisadeClusterNetworkPolicy: `nodesRealized`, `nodesDesired` and the `Enforced`
 * condition (True when every node that needs the policy has it in its kernel; reason
 * `Realized`, `Pending` or `NoEndpoints`). NetworkPolicy is not written to (it is not
 * ours); its realization is served by the integrators' API (`ListPolicyStatus`).
 *
 * Writes are coalesced: at most one pass per `intervalMs`, and only objects whose
 * figures changed are patched (with their resourceVersion; a conflict is retried on the
 * next pass).
 */
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/kubeApiError.js';
import type { KubeObject } from '../kube/kubeObject.js';
import { Resources, type Resource } from '../kube/resources.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import type { PolicyRealization } from '../distribution/distributor.js';
import type { Informers } from './context.js';
import { setCondition, type Condition } from './conditions.js';

/** Options of the writer. */
export interface EnforcedStatusOptions {
  readonly client: KubeClient;
  /** The realization of every policy of the current term (empty when not leading). */
  readonly realization: () => PolicyRealization[];
  /** The current term's informers (undefined when not leading). */
  readonly informers: () => Informers | undefined;
  readonly intervalMs?: number;
  readonly logger?: Logger;
}

const KINDS: readonly [string, Resource, keyof Informers][] = [
  ['PalisadeNetworkPolicy', Resources.palisadeNetworkPolicies, 'palisadeNetworkPolicies'],
  [
    'PalisadeClusterNetworkPolicy',
    Resources.palisadeClusterNetworkPolicies,
    'palisadeClusterNetworkPolicies',
  ],
];

interface PolicyStatus {
  conditions?: Condition[];
  nodesRealized?: number;
  nodesDesired?: number;
}

/** The status writer. Call `changed()` on every realization change; `stop()` at the end. */
export class EnforcedStatusWriter {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly o: EnforcedStatusOptions) {
    this.log = o.logger ?? silentLogger;
  }

  /** Schedules a pass. */
  changed(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.pass();
    }, this.o.intervalMs ?? 250);
  }

  /** Stops writing. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async pass(): Promise<void> {
    this.running = true;
    let retry = false;
    try {
      const informers = this.o.informers();
      if (!informers) return;
      for (const r of this.o.realization()) {
        const slash = r.policy.indexOf('/');
        const kind = r.policy.slice(0, slash);
        const k = KINDS.find((x) => x[0] === kind);
        if (!k) continue;
        const obj = informers[k[2]].get(r.policy.slice(slash + 1));
        if (!obj || obj.metadata.deletionTimestamp) continue;
        try {
          await this.write(k[1], obj, r);
        } catch (err) {
          retry = true;
          if (!(err instanceof KubeApiError && err.status === 409))
            this.log.warn('cannot write Enforced status', {
              policy: r.policy,
              error: errorMessage(err),
            });
        }
      }
    } finally {
      this.running = false;
      if (this.again || retry) {
        this.again = false;
        this.changed();
      }
    }
  }

  private async write(res: Resource, obj: KubeObject, r: PolicyRealization): Promise<void> {
    const status = (obj.status ?? {}) as PolicyStatus;
    const done = r.nodesRealized === r.nodesDesired;
    const { conditions, changed } = setCondition(
      status.conditions,
      {
        type: 'Enforced',
        status: done ? 'True' : 'False',
        reason: r.nodesDesired === 0 ? 'NoEndpoints' : done ? 'Realized' : 'Pending',
        message:
          r.nodesDesired === 0
            ? 'no pod this policy selects runs on a node yet'
            : `in the kernel of ${r.nodesRealized} of the ${r.nodesDesired} nodes that run pods it selects`,
        ...(obj.metadata.generation !== undefined
          ? { observedGeneration: obj.metadata.generation }
          : {}),
      },
      new Date(),
    );
    if (
      !changed &&
      status.nodesRealized === r.nodesRealized &&
      status.nodesDesired === r.nodesDesired
    )
      return;
    await this.o.client.mergePatch(
      res,
      obj.metadata.name,
      obj.metadata.namespace,
      {
        metadata: { resourceVersion: obj.metadata.resourceVersion },
        status: { conditions, nodesRealized: r.nodesRealized, nodesDesired: r.nodesDesired },
      },
      'status',
    );
  }
}
