/**
 * Kubernetes Events (core/v1) about objects, so `kubectl describe` and `kubectl get events`
 * show what the operator noticed. The same (object, reason) is recorded at most once per
 * `minIntervalMs`; a failure to record is logged, never thrown.
 */
import { errorMessage, silentLogger, type Logger } from '../log.js';
import type { KubeClient } from './client.js';
import type { KubeObject } from './kubeObject.js';
import { Resources } from './resources.js';

/** The object an event is about. */
export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
}

/** Records events. */
export class EventRecorder {
  private readonly last = new Map<string, number>();
  private readonly log: Logger;

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly options: {
      minIntervalMs?: number;
      logger?: Logger;
      defaultNamespace?: string;
    } = {},
  ) {
    this.log = options.logger ?? silentLogger;
  }

  /**
   * Records a Normal or Warning event (fire and forget). The event goes to the object's
   * namespace, or `eventNamespace`, or the recorder's default namespace.
   */
  record(
    obj: InvolvedObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    eventNamespace?: string,
  ): void {
    const k = `${obj.kind}/${obj.namespace ?? ''}/${obj.name}/${reason}`;
    const now = Date.now();
    const prev = this.last.get(k);
    if (prev !== undefined && now - prev < (this.options.minIntervalMs ?? 600_000)) return;
    this.last.set(k, now);
    if (this.last.size > 10_000) this.last.clear();
    const namespace = obj.namespace ?? eventNamespace ?? this.options.defaultNamespace ?? 'default';
    const ts = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${obj.name}.${now.toString(16)}${Math.random().toString(16).slice(2, 8)}`,
        namespace,
      },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.name,
        ...(obj.namespace ? { namespace: obj.namespace } : {}),
        ...(obj.uid ? { uid: obj.uid } : {}),
      },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: this.component },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      reportingComponent: this.component,
    };
    this.client
      .create(Resources.events, ev)
      .catch((err: unknown) =>
        this.log.warn('could not record event', { reason, error: errorMessage(err) }),
      );
  }
}
