/**
 * The default identity store: one cluster-scoped `SecurityIdentity` object per identity.
 *
 * - **One number per label set**: the object's name is derived from the label-set key
 *   (`sid-` + the first 40 hex digits of its SHA-256), so two allocators creating the same
 *   label set race on one name and the apiserver lets exactly one create win; the loser
 *   reads the winner's number. `spec.key` holds the whole key and is checked on every read,
 *   so a hash collision is an error, never a shared identity.
 * - **One label set per number**: numbers come from a counter in a ConfigMap, advanced by
 *   compare-and-swap on its resourceVersion in blocks (`blockSize`), so two allocators never
 *   hold the same number; a number whose create lost the race is simply not used. The
 *   counter only grows: numbers are never reused. If the ConfigMap is lost, it is rebuilt
 *   above the largest number any SecurityIdentity holds.
 * - **Unused marks**: annotation `palisade.dev/unused-since` (RFC 3339) plus label
 *   `palisade.dev/unused=true` (so collection lists only marked objects). Every mark write
 *   carries the object's resourceVersion, and collection deletes with a resourceVersion
 *   precondition, so a mark cleared by `allocate` meanwhile always wins over the delete.
 */
import { createHash } from 'node:crypto';
import type { SecurityLabels } from '@palisade/core';
import { FIRST_CLUSTER_IDENTITY, LAST_CLUSTER_IDENTITY } from '@palisade/core';
import { OperatorError } from '../errors.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/kubeApiError.js';
import type { KubeObject } from '../kube/kubeObject.js';
import { Resources } from '../kube/resources.js';
import type { IdentityStore, StoredIdentity } from './store.js';

/** The annotation holding when an identity was marked unused. */
export const UNUSED_SINCE_ANNOTATION = 'palisade.dev/unused-since';
/** The label set together with the annotation, for listing marked identities. */
export const UNUSED_LABEL = 'palisade.dev/unused';
/** The label holding the identity number, for lookups by number. */
export const IDENTITY_LABEL = 'palisade.dev/identity';

/** A SecurityIdentity object. */
export interface SecurityIdentityObject extends KubeObject {
  spec: {
    id: number;
    key: string;
    namespace: string;
    serviceAccount: string;
    podLabels: Record<string, string>;
    namespaceLabels: Record<string, string>;
    namedPorts?: { name: string; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }[];
  };
}

interface CounterMap extends KubeObject {
  data?: Record<string, string>;
}

/** Options of the CRD store. */
export interface CrdIdentityStoreOptions {
  readonly client: KubeClient;
  /** Namespace of the counter ConfigMap (the operator's namespace). */
  readonly namespace: string;
  /** Name of the counter ConfigMap (default `palisade-identity-counter`). */
  readonly counterName?: string;
  /** Numbers reserved per counter update (default 64). */
  readonly blockSize?: number;
  readonly first?: number;
  readonly last?: number;
  readonly logger?: Logger;
}

/** The SecurityIdentity object name for a label-set key. */
export function securityIdentityName(key: string): string {
  return `sid-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** The store. */
export class CrdIdentityStore implements IdentityStore {
  readonly kind = 'crd';
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly first: number;
  private readonly last: number;
  private readonly blockSize: number;
  private readonly counterName: string;
  private block: { next: number; end: number } = { next: 0, end: 0 };
  private reserving: Promise<void> | undefined;
  /** Number → object name, learned from allocations and lists. */
  private readonly names = new Map<number, string>();

  constructor(private readonly o: CrdIdentityStoreOptions) {
    this.client = o.client;
    this.log = (o.logger ?? silentLogger).with({ store: 'crd' });
    this.first = o.first ?? FIRST_CLUSTER_IDENTITY;
    this.last = o.last ?? LAST_CLUSTER_IDENTITY;
    this.blockSize = o.blockSize ?? 64;
    this.counterName = o.counterName ?? 'palisade-identity-counter';
  }

  /** {@inheritDoc IdentityStore.allocate} */
  async allocate(key: string, labels: SecurityLabels): Promise<number> {
    const name = securityIdentityName(key);
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const have = await this.client.get<SecurityIdentityObject>(
          Resources.securityIdentities,
          name,
        );
        if (have) {
          if (have.spec.key !== key)
            throw new OperatorError(
              'IDENTITY_STORE',
              `SecurityIdentity ${name} holds another label set (hash collision): refusing to share it`,
            );
          this.names.set(have.spec.id, name);
          if (isMarked(have))
            await this.client.replace(Resources.securityIdentities, unmarked(have));
          return have.spec.id;
        }
        const id = await this.takeNumber();
        await this.client.create<SecurityIdentityObject>(Resources.securityIdentities, {
          apiVersion: 'palisade.dev/v1alpha1',
          kind: 'SecurityIdentity',
          metadata: { name, labels: { [IDENTITY_LABEL]: String(id) } },
          spec: {
            id,
            key,
            namespace: labels.namespace,
            serviceAccount: labels.serviceAccount,
            podLabels: { ...labels.podLabels },
            namespaceLabels: { ...labels.namespaceLabels },
            namedPorts: labels.namedPorts.map((p) => ({ ...p })),
          },
        });
        this.names.set(id, name);
        return id;
      } catch (err) {
        // Lost a race (created or changed meanwhile, or deleted by collection): read again.
        if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) continue;
        throw wrap(err, `allocate ${name}`);
      }
    }
    throw new OperatorError('IDENTITY_STORE', `allocate ${name}: too many conflicting writers`);
  }

  /** {@inheritDoc IdentityStore.markUnused} */
  async markUnused(ids: readonly number[], at: number): Promise<void> {
    for (const id of ids) {
      for (let attempt = 0; attempt < 10; attempt++) {
        try {
          const obj = await this.byNumber(id);
          if (!obj || isMarked(obj)) break;
          await this.client.replace(Resources.securityIdentities, marked(obj, at));
          break;
        } catch (err) {
          if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) continue;
          throw wrap(err, `mark identity ${id} unused`);
        }
      }
    }
  }

  /** {@inheritDoc IdentityStore.list} */
  async list(): Promise<StoredIdentity[]> {
    try {
      const { items } = await this.client.listAll<SecurityIdentityObject>(
        Resources.securityIdentities,
      );
      return items.map((o) => {
        this.names.set(o.spec.id, o.metadata.name);
        return toStored(o);
      });
    } catch (err) {
      throw wrap(err, 'list SecurityIdentities');
    }
  }

  /** {@inheritDoc IdentityStore.collect} */
  async collect(before: number): Promise<number[]> {
    const freed: number[] = [];
    try {
      const { items } = await this.client.listAll<SecurityIdentityObject>(
        Resources.securityIdentities,
        { labelSelector: `${UNUSED_LABEL}=true` },
      );
      const due = items.filter((o) => {
        const since = unusedSince(o);
        return since !== undefined && since <= before;
      });
      // Deletes go out 16 at a time; each is conditional on the resourceVersion listed, so
      // an identity re-used since the list (its mark cleared) answers 409 and is kept.
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < due.length) {
          const o = due[next++] as SecurityIdentityObject;
          try {
            const gone = await this.client.delete(
              Resources.securityIdentities,
              o.metadata.name,
              undefined,
              {
                ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
                ...(o.metadata.resourceVersion
                  ? { resourceVersion: o.metadata.resourceVersion }
                  : {}),
              },
            );
            if (gone) {
              freed.push(o.spec.id);
              this.names.delete(o.spec.id);
            }
          } catch (err) {
            if (err instanceof KubeApiError && err.status === 409) continue;
            throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(16, due.length) }, worker));
    } catch (err) {
      throw wrap(err, 'collect unused SecurityIdentities');
    }
    return freed.sort((a, b) => a - b);
  }

  /** {@inheritDoc IdentityStore.close} */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private async byNumber(id: number): Promise<SecurityIdentityObject | undefined> {
    const name = this.names.get(id);
    if (name) {
      const o = await this.client.get<SecurityIdentityObject>(Resources.securityIdentities, name);
      if (o && o.spec.id === id) return o;
    }
    const page = await this.client.list<SecurityIdentityObject>(Resources.securityIdentities, {
      labelSelector: `${IDENTITY_LABEL}=${id}`,
    });
    const o = page.items.find((x) => x.spec.id === id);
    if (o) this.names.set(id, o.metadata.name);
    return o;
  }

  /** A number nobody else holds: from this allocator's block, reserving a new block if needed. */
  private async takeNumber(): Promise<number> {
    for (;;) {
      if (this.block.next < this.block.end) return this.block.next++;
      if (!this.reserving)
        this.reserving = this.reserveBlock().finally(() => (this.reserving = undefined));
      await this.reserving;
    }
  }

  private async reserveBlock(): Promise<void> {
    const ns = this.o.namespace;
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const cm = await this.client.get<CounterMap>(Resources.configMaps, this.counterName, ns);
        if (!cm) {
          const start = Math.max(this.first, (await this.highestNumber()) + 1);
          const end = this.blockEnd(start);
          await this.client.create<CounterMap>(Resources.configMaps, {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: this.counterName, namespace: ns },
            data: { next: String(end) },
          });
          this.block = { next: start, end };
          return;
        }
        const next = Number(cm.data?.next ?? this.first);
        if (!Number.isSafeInteger(next) || next < this.first)
          throw new OperatorError(
            'IDENTITY_STORE',
            `ConfigMap ${ns}/${this.counterName}: data.next is not a number ≥ ${this.first}`,
          );
        const end = this.blockEnd(next);
        await this.client.replace<CounterMap>(Resources.configMaps, {
          ...cm,
          data: { ...cm.data, next: String(end) },
        });
        this.block = { next, end };
        return;
      } catch (err) {
        if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) {
          await new Promise((r) => setTimeout(r, Math.random() * 20 * Math.min(attempt + 1, 10)));
          continue;
        }
        throw err;
      }
    }
    throw new OperatorError(
      'IDENTITY_STORE',
      `identity counter ${ns}/${this.counterName}: too many conflicting writers`,
    );
  }

  private blockEnd(start: number): number {
    if (start > this.last)
      throw new OperatorError(
        'IDENTITY_EXHAUSTED',
        `no identity number left between ${this.first} and ${this.last}`,
      );
    return Math.min(start + this.blockSize, this.last + 1);
  }

  private async highestNumber(): Promise<number> {
    const { items } = await this.client.listAll<SecurityIdentityObject>(
      Resources.securityIdentities,
    );
    let max = 0;
    for (const o of items) max = Math.max(max, o.spec.id);
    if (items.length > 0)
      this.log.warn('identity counter missing: rebuilt above the highest existing number', {
        highest: max,
      });
    return max;
  }
}

function isMarked(o: SecurityIdentityObject): boolean {
  return unusedSince(o) !== undefined || o.metadata.labels?.[UNUSED_LABEL] !== undefined;
}

function unusedSince(o: SecurityIdentityObject): number | undefined {
  const v = o.metadata.annotations?.[UNUSED_SINCE_ANNOTATION];
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : t;
}

function marked(o: SecurityIdentityObject, at: number): SecurityIdentityObject {
  return {
    ...o,
    metadata: {
      ...o.metadata,
      labels: { ...o.metadata.labels, [UNUSED_LABEL]: 'true' },
      annotations: {
        ...o.metadata.annotations,
        [UNUSED_SINCE_ANNOTATION]: new Date(at).toISOString(),
      },
    },
  };
}

function unmarked(o: SecurityIdentityObject): SecurityIdentityObject {
  const labels = { ...o.metadata.labels };
  delete labels[UNUSED_LABEL];
  const annotations = { ...o.metadata.annotations };
  delete annotations[UNUSED_SINCE_ANNOTATION];
  return { ...o, metadata: { ...o.metadata, labels, annotations } };
}

function toStored(o: SecurityIdentityObject): StoredIdentity {
  const since = unusedSince(o);
  const s = o.spec;
  return {
    id: s.id,
    key: s.key,
    labels: {
      namespace: s.namespace,
      serviceAccount: s.serviceAccount,
      podLabels: s.podLabels,
      namespaceLabels: s.namespaceLabels,
      namedPorts: s.namedPorts ?? [],
    },
    ...(since !== undefined ? { unusedSince: since } : {}),
  };
}

function wrap(err: unknown, what: string): OperatorError {
  if (err instanceof OperatorError && err.code !== 'KUBE' && err.code !== 'GONE') return err;
  return new OperatorError('IDENTITY_STORE', `${what}: ${errorMessage(err)}`, { cause: err });
}
