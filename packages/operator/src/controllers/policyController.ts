/**
 * NetworkPolicy, PalisadeNetworkPolicy and PalisadeClusterNetworkPolicy → the compiler,
 * with status on our own kinds.
 *
 * Reconcile order (operator-framework style): deletion first (remove from the compiled
 * state, then our finalizer), then make sure our finalizer is on the object, then
 * validate and compile, then write status (`observedGeneration`, condition `Valid`).
 *
 * A policy that passes the schema but is invalid (a bad regex, a CIDR the engine refuses)
 * gets `Valid=False` with a reason that names the field. It does not touch anything else:
 * every other policy's compiled result stays as it was, and this policy's last valid
 * generation stays enforced (a typo never opens or closes traffic by itself), which the
 * condition message says.
 */
import { parseObject, PolicyError, policyKey, type Policy } from '@palisade/core';
import { KubeApiError } from '../kube/kubeApiError.js';
import type { Informer } from '../kube/informer.js';
import { splitKey, type KubeObject } from '../kube/kubeObject.js';
import { Resources, type Resource } from '../kube/resources.js';
import { errorMessage } from '../log.js';
import { setCondition, type Condition } from './conditions.js';
import type { ControllerContext, Informers } from './context.js';
import type { KeyKind } from './queueKeys.js';

/** The finalizer on our policy kinds. */
export const POLICY_FINALIZER = 'palisade.dev/policy';

type PolicyKind = Extract<KeyKind, 'np' | 'pnp' | 'pcnp'>;

const KIND: Record<
  PolicyKind,
  {
    kind: string;
    resource: Resource;
    ours: boolean;
    informer: (i: Informers) => Informer<KubeObject>;
  }
> = {
  np: {
    kind: 'NetworkPolicy',
    resource: Resources.networkPolicies,
    ours: false,
    informer: (i) => i.networkPolicies,
  },
  pnp: {
    kind: 'PalisadeNetworkPolicy',
    resource: Resources.palisadeNetworkPolicies,
    ours: true,
    informer: (i) => i.palisadeNetworkPolicies,
  },
  pcnp: {
    kind: 'PalisadeClusterNetworkPolicy',
    resource: Resources.palisadeClusterNetworkPolicies,
    ours: true,
    informer: (i) => i.palisadeClusterNetworkPolicies,
  },
};

interface Applied {
  readonly generation: number | undefined;
  readonly uid: string | undefined;
  readonly policy: Policy;
}

interface PolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

/** The policy controller. */
export class PolicyController {
  /** What each policy key last compiled from. */
  private readonly applied = new Map<string, Applied>();
  /** Policy keys whose current generation is invalid. */
  private readonly invalid = new Set<string>();

  constructor(private readonly ctx: ControllerContext) {}

  /** Number of policies whose current generation is invalid. */
  get invalidCount(): number {
    return this.invalid.size;
  }

  /** Reconciles one policy. `seenAt` is when the change that queued it arrived. */
  async reconcile(kind: PolicyKind, objectKey: string, seenAt: number): Promise<void> {
    const meta = KIND[kind];
    const informer = meta.informer(this.ctx.informers);
    const obj = informer.get(objectKey);
    const { namespace, name } = splitKey(objectKey);
    const key = policyKey({ kind: meta.kind, ...(namespace ? { namespace } : {}), name });
    if (!obj) {
      this.remove(key, seenAt);
      return;
    }
    const m = obj.metadata;
    if (meta.ours && m.deletionTimestamp) {
      this.remove(key, seenAt);
      if (m.finalizers?.includes(POLICY_FINALIZER))
        await this.patchMeta(meta.resource, obj, {
          finalizers: m.finalizers.filter((f) => f !== POLICY_FINALIZER),
        });
      return;
    }
    if (meta.ours && !m.finalizers?.includes(POLICY_FINALIZER)) {
      // The update comes back through the informer and queues this key again.
      await this.patchMeta(meta.resource, obj, {
        finalizers: [...(m.finalizers ?? []), POLICY_FINALIZER],
      });
      return;
    }
    const prev = this.applied.get(key);
    let condition: Omit<Condition, 'lastTransitionTime'>;
    if (prev && prev.uid === m.uid && prev.generation === m.generation && !this.invalid.has(key)) {
      condition = validCondition(prev.policy, m.generation);
    } else {
      try {
        const parsed = parseObject(obj);
        if (parsed.kind !== 'Policy') return;
        this.ctx.engine.upsertPolicy(parsed.policy);
        this.applied.set(key, { generation: m.generation, uid: m.uid, policy: parsed.policy });
        this.invalid.delete(key);
        this.ctx.changed({ key, seenAt });
        condition = validCondition(parsed.policy, m.generation);
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        this.invalid.add(key);
        const kept =
          prev && prev.uid === m.uid
            ? ` Generation ${prev.generation ?? '?'} (the last valid one) stays enforced.`
            : ' Nothing of it is enforced.';
        condition = {
          type: 'Valid',
          status: 'False',
          reason: err.code,
          message: `${err.field}: ${err.reason}.${kept}`,
          ...(m.generation !== undefined ? { observedGeneration: m.generation } : {}),
        };
        this.ctx.log.warn('invalid policy', { policy: key, field: err.field, error: err.reason });
        this.ctx.events.record(
          {
            apiVersion: obj.apiVersion ?? '',
            kind: meta.kind,
            name: m.name,
            ...(m.namespace ? { namespace: m.namespace } : {}),
            ...(m.uid ? { uid: m.uid } : {}),
          },
          'Warning',
          'InvalidPolicy',
          err.message,
        );
      }
    }
    this.ctx.metrics.policiesInvalid.set(this.invalid.size);
    if (meta.ours) await this.writeStatus(meta.resource, obj, condition);
  }

  private remove(key: string, seenAt: number): void {
    this.invalid.delete(key);
    this.ctx.metrics.policiesInvalid.set(this.invalid.size);
    if (!this.applied.delete(key)) return;
    this.ctx.engine.deletePolicy(key);
    this.ctx.changed({ key, seenAt });
  }

  private async writeStatus(
    res: Resource,
    obj: KubeObject,
    condition: Omit<Condition, 'lastTransitionTime'>,
  ): Promise<void> {
    const status = (obj.status ?? {}) as PolicyStatus;
    const { conditions, changed } = setCondition(status.conditions, condition, new Date());
    if (!changed && status.observedGeneration === obj.metadata.generation) return;
    try {
      await this.ctx.client.mergePatch(
        res,
        obj.metadata.name,
        obj.metadata.namespace,
        {
          metadata: { resourceVersion: obj.metadata.resourceVersion },
          status: { observedGeneration: obj.metadata.generation, conditions },
        },
        'status',
      );
    } catch (err) {
      // A newer version exists: its own event queues this key again.
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) return;
      throw err;
    }
  }

  private async patchMeta(
    res: Resource,
    obj: KubeObject,
    meta: { finalizers: string[] },
  ): Promise<void> {
    try {
      await this.ctx.client.mergePatch(res, obj.metadata.name, obj.metadata.namespace, {
        metadata: { resourceVersion: obj.metadata.resourceVersion, ...meta },
      });
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) return;
      this.ctx.log.warn('could not update finalizers', {
        name: obj.metadata.name,
        error: errorMessage(err),
      });
      throw err;
    }
  }
}

function validCondition(
  policy: Policy,
  generation: number | undefined,
): Omit<Condition, 'lastTransitionTime'> {
  const rules = policy.rules.length;
  return {
    type: 'Valid',
    status: 'True',
    reason: policy.warnings.length > 0 ? 'ValidWithWarnings' : 'Compiled',
    message:
      policy.warnings.length > 0
        ? `Compiled ${rules} rule(s). Warnings: ${policy.warnings.join('; ')}`
        : `Compiled ${rules} rule(s).`,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}
