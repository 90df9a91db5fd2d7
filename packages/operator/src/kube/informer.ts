/**
 * A list-and-watch informer: a local cache of one resource kept current from the
 * kube-apiserver.
 *
 * - Lists (in pages), then watches from the list's resourceVersion with bookmarks, so a
 *   quiet watch still advances its resourceVersion.
 * - When a watch ends normally (server timeout), it watches again from the last
 *   resourceVersion it saw; nothing is listed again.
 * - 410 Gone (the resourceVersion was compacted away) → lists again and reconciles the
 *   cache with the new list: objects that disappeared meanwhile are reported deleted.
 * - Any other failure (apiserver down, connection reset) → retries with exponential backoff,
 *   forever, until the signal aborts; it never throws out of `run`.
 *
 * Handlers get each change after the cache holds it. They must be quick and not throw
 * (controllers enqueue a key and read the cache later: reconcile from state, not events).
 */
import { errorMessage, silentLogger, type Logger } from '../log.js';
import { Backoff, type BackoffOptions } from '@palisade/core';
import { sleep } from './backoff.js';
import type { KubeClient, WatchEvent } from './client.js';
import { KubeApiError } from './kubeApiError.js';
import { objectKey, type KubeObject } from './kubeObject.js';
import { apiVersionOf, type Resource } from './resources.js';

/** A change of the cache. */
export type InformerEvent<T> =
  | { readonly type: 'upsert'; readonly key: string; readonly object: T; readonly old?: T }
  | { readonly type: 'delete'; readonly key: string; readonly object: T };

/** Counters an informer keeps (exported as metrics by the operator). */
export interface InformerStats {
  lists: number;
  watches: number;
  gone: number;
  failures: number;
  events: number;
}

/** Options of an informer. */
export interface InformerOptions<T extends KubeObject> {
  readonly client: KubeClient;
  readonly resource: Resource;
  /** Only this namespace (default: all). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly logger?: Logger;
  readonly backoff?: BackoffOptions;
  /** Server-side watch timeout range in seconds (default 240–480, randomised per watch). */
  readonly watchTimeoutSeconds?: readonly [number, number];
  /** Observers for metrics. */
  readonly hooks?: { listed?(): void; failed?(): void };
  /** Reduces each object before it is cached (default: drops managedFields). */
  readonly transform?: (obj: KubeObject) => T;
}

/** The cache of one resource. */
export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: ((e: InformerEvent<T>) => void)[] = [];
  private resourceVersion = '';
  private syncedResolve!: () => void;
  private isSynced = false;
  private readonly log: Logger;
  /** Resolves once the first list is in the cache. */
  readonly synced: Promise<void>;
  readonly stats: InformerStats = { lists: 0, watches: 0, gone: 0, failures: 0, events: 0 };

  constructor(private readonly options: InformerOptions<T>) {
    this.synced = new Promise((r) => (this.syncedResolve = r));
    this.log = (options.logger ?? silentLogger).with({ informer: options.resource.plural });
  }

  /** Registers a handler for every later change. */
  on(handler: (e: InformerEvent<T>) => void): void {
    this.handlers.push(handler);
  }

  /** The cached object with this key (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** Number of cached objects. */
  get size(): number {
    return this.cache.size;
  }

  /** True once the first list is in the cache. */
  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** The last resourceVersion seen (list, event or bookmark). */
  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Lists and watches until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({
      jitter: 'equal',
      ...(this.options.backoff ?? { initialMs: 250, maxMs: 10_000 }),
    });
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
          backoff.reset();
        }
        this.stats.watches++;
        await this.watchOnce(signal);
        backoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof KubeApiError && err.status === 410) {
          this.stats.gone++;
          this.log.info('watch expired (410 Gone): listing again', {
            resourceVersion: this.resourceVersion,
          });
          needList = true;
          continue;
        }
        this.stats.failures++;
        this.options.hooks?.failed?.();
        const delay = backoff.next();
        this.log.warn('list/watch failed: retrying', {
          error: errorMessage(err),
          retryInMs: delay,
          attempt: backoff.attempts,
        });
        await sleep(delay, signal);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const o = this.options;
    const { items, resourceVersion } = await o.client.listAll<KubeObject>(o.resource, {
      ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
      ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
      ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
      signal,
    });
    this.stats.lists++;
    o.hooks?.listed?.();
    const seen = new Set<string>();
    for (const raw of items) {
      const obj = this.reduce(raw);
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.get(key);
      if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) continue;
      this.cache.set(key, obj);
      this.emitUpsert(key, obj, old);
    }
    for (const [key, old] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.emit({ type: 'delete', key, object: old });
    }
    this.resourceVersion = resourceVersion;
    this.log.debug('listed', { objects: this.cache.size, resourceVersion });
    if (!this.isSynced) {
      this.isSynced = true;
      this.syncedResolve();
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const o = this.options;
    const [lo, hi] = o.watchTimeoutSeconds ?? [240, 480];
    await o.client.watch<KubeObject>(
      o.resource,
      {
        resourceVersion: this.resourceVersion,
        timeoutSeconds: Math.round(lo + Math.random() * (hi - lo)),
        ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
        ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
        ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
        signal,
      },
      (e) => this.onEvent(e),
    );
  }

  private onEvent(e: WatchEvent<KubeObject>): void {
    switch (e.type) {
      case 'BOOKMARK':
        this.resourceVersion = e.object.metadata.resourceVersion ?? this.resourceVersion;
        return;
      case 'ERROR': {
        const status = e.object as unknown as { code?: number; reason?: string; message?: string };
        throw new KubeApiError(
          status.code ?? 500,
          status.reason ?? '',
          `watch ${this.options.resource.plural}: ${status.message ?? 'error event'}`,
        );
      }
      case 'ADDED':
      case 'MODIFIED': {
        const obj = this.reduce(e.object);
        const key = objectKey(obj);
        const old = this.cache.get(key);
        this.cache.set(key, obj);
        this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
        this.emitUpsert(key, obj, old);
        return;
      }
      case 'DELETED': {
        const obj = this.reduce(e.object);
        const key = objectKey(obj);
        this.cache.delete(key);
        this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
        this.emit({ type: 'delete', key, object: obj });
        return;
      }
    }
  }

  private reduce(raw: KubeObject): T {
    // List items carry no apiVersion/kind; the parsers downstream need them.
    raw.apiVersion ??= apiVersionOf(this.options.resource);
    raw.kind ??= this.options.resource.kind;
    if (this.options.transform) return this.options.transform(raw);
    if ('managedFields' in raw.metadata)
      delete (raw.metadata as { managedFields?: unknown }).managedFields;
    return raw as T;
  }

  private emitUpsert(key: string, object: T, old: T | undefined): void {
    this.emit(old ? { type: 'upsert', key, object, old } : { type: 'upsert', key, object });
  }

  private emit(e: InformerEvent<T>): void {
    this.stats.events++;
    for (const h of this.handlers) {
      try {
        h(e);
      } catch (err) {
        this.log.error('informer handler threw', { error: errorMessage(err), key: e.key });
      }
    }
  }
}
