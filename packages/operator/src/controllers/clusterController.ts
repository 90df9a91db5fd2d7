/**
 * Namespaces, pods and nodes → the compiler's inputs, with identities from the store.
 *
 * Every pod gets its identity number from the store *before* the compiler sees the pod
 * (`IdentityManager.ensure`), and the check that the number is still the right one happens
 * in the same synchronous step that feeds the compiler, so a namespace relabelled
 * meanwhile sends the reconcile around again instead of handing the compiler a label set
 * without a number.
 *
 * Host-network pods are not endpoints: their addresses join their node's addresses, which
 * map to the remote-node identity (each node rewrites its own to `host`).
 */
import {
  identityKey,
  parseObject,
  PolicyError,
  type PodInput,
  type SecurityLabels,
} from '@palisade/core';
import { OperatorError } from '../errors.js';
import { errorMessage } from '../log.js';
import { splitKey, type KubeObject } from '../kube/kubeObject.js';
import type { ControllerContext } from './context.js';

const MAX_ROUNDS = 20;

/** The controller for namespaces, pods and nodes. */
export class ClusterController {
  /** Host-network pods by key → their node. */
  private readonly hostPods = new Map<string, { node: string; ips: readonly string[] }>();

  constructor(private readonly ctx: ControllerContext) {}

  /** Reconciles one namespace by name. */
  async namespace(name: string): Promise<void> {
    const { engine, identities, informers } = this.ctx;
    const obj = informers.namespaces.get(name);
    let labels: Record<string, string> = {};
    if (obj) {
      try {
        const p = parseObject(obj);
        if (p.kind === 'Namespace') labels = { ...p.namespace.labels };
      } catch (err) {
        this.refuse(obj, err);
        return;
      }
    }
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const pods = engine.podsInNamespace(name);
      await Promise.all(pods.map((p) => identities.ensure(engine.podSecurityLabels(p, labels))));
      // Synchronously from here: every pod of the namespace must have its number cached.
      if (
        engine
          .podsInNamespace(name)
          .every((p) => identities.numberOf(engine.podSecurityLabels(p, labels)) !== undefined)
      ) {
        if (obj) engine.upsertNamespace({ name, labels });
        else engine.deleteNamespace(name);
        this.ctx.changed();
        return;
      }
    }
    throw new OperatorError('IDENTITY_STORE', `namespace ${name}: identities kept changing`);
  }

  /** Reconciles one pod by `namespace/name`. */
  async pod(key: string): Promise<void> {
    const { engine, identities, informers } = this.ctx;
    const { namespace = '', name } = splitKey(key);
    const obj = informers.pods.get(key);
    const wasHost = this.hostPods.get(key);
    if (!obj) {
      engine.deletePod(namespace, name);
      this.ctx.changed();
      if (wasHost) this.dropHostPod(key, wasHost.node);
      return;
    }
    let input: PodInput;
    try {
      const p = parseObject(obj);
      if (p.kind !== 'Pod') return;
      input = p.pod;
    } catch (err) {
      engine.deletePod(namespace, name);
      this.ctx.changed();
      this.refuse(obj, err);
      return;
    }
    if (input.hostNetwork) {
      engine.deletePod(namespace, name);
      if (wasHost && wasHost.node !== input.nodeName) this.dropHostPod(key, wasHost.node);
      if (input.nodeName) {
        this.hostPods.set(key, { node: input.nodeName, ips: input.ips });
        this.node(input.nodeName);
      }
      this.ctx.changed();
      return;
    }
    if (wasHost) this.dropHostPod(key, wasHost.node);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const labels: SecurityLabels = engine.podSecurityLabels(input);
      await identities.ensure(labels);
      // Synchronously: the namespace may have changed while we waited.
      if (identities.numberOf(engine.podSecurityLabels(input)) !== undefined) {
        engine.upsertPod(input);
        this.ctx.changed();
        return;
      }
      this.ctx.log.debug('pod identity changed while allocating: again', {
        pod: key,
        identityKey: identityKey(labels),
      });
    }
    throw new OperatorError('IDENTITY_STORE', `pod ${key}: identity kept changing`);
  }

  /** Reconciles one node's addresses (synchronous). */
  node(name: string): void {
    const obj = this.ctx.informers.nodes.get(name);
    const addrs = new Set<string>();
    const status = (obj?.status ?? {}) as { addresses?: { type?: string; address?: string }[] };
    for (const a of status.addresses ?? [])
      if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && a.address) addrs.add(a.address);
    for (const hp of this.hostPods.values())
      if (hp.node === name) for (const ip of hp.ips) addrs.add(ip);
    if (addrs.size > 0) this.ctx.engine.upsertNode(name, [...addrs]);
    else this.ctx.engine.deleteNode(name);
    this.ctx.changed();
  }

  private dropHostPod(key: string, node: string): void {
    this.hostPods.delete(key);
    this.node(node);
  }

  private refuse(obj: KubeObject, err: unknown): void {
    if (!(err instanceof PolicyError)) throw err;
    const m = obj.metadata;
    this.ctx.log.warn('object ignored', {
      kind: obj.kind,
      name: m.name,
      namespace: m.namespace,
      error: errorMessage(err),
    });
    this.ctx.events.record(
      {
        apiVersion: obj.apiVersion ?? 'v1',
        kind: obj.kind ?? 'Pod',
        name: m.name,
        ...(m.namespace ? { namespace: m.namespace } : {}),
        ...(m.uid ? { uid: m.uid } : {}),
      },
      'Warning',
      'Ignored',
      `Palisade cannot use this object: ${err.message}`,
    );
  }
}
