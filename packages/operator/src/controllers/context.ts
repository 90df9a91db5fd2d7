/** What every controller works with: the caches, the compiler, identities, and the API. */
import type { PolicyEngine } from '@palisade/core';
import type { IdentityManager } from '../identity/identityManager.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import type { Informer } from '../kube/informer.js';
import type { KubeObject } from '../kube/kubeObject.js';
import type { Logger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';

/** The informers of one leadership term. */
export interface Informers {
  readonly namespaces: Informer<KubeObject>;
  readonly pods: Informer<KubeObject>;
  readonly nodes: Informer<KubeObject>;
  readonly networkPolicies: Informer<KubeObject>;
  readonly palisadeNetworkPolicies: Informer<KubeObject>;
  readonly palisadeClusterNetworkPolicies: Informer<KubeObject>;
}

/** The controllers' shared context. */
export interface ControllerContext {
  readonly engine: PolicyEngine;
  readonly identities: IdentityManager;
  readonly informers: Informers;
  readonly client: KubeClient;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  /** The engine was changed: flush soon. A policy change names its key and when it was seen. */
  changed(policy?: { key: string; seenAt: number }): void;
}
