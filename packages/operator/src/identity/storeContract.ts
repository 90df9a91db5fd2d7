/**
 * The contract every {@link IdentityStore} keeps, as a reusable node:test suite. Each store's
 * test file calls {@link describeIdentityStoreContract} with a factory for fresh stores.
 *
 * Every case calls the factory once and `cleanup` at its end, pass or fail. Label sets carry
 * a random per-case tag, and checks look only at the case's own keys (plus global checks
 * that hold for any content: no number with two keys, no key with two numbers), so a store
 * whose cleanup leaves data behind still gives meaningful results. Unused marks use times
 * in 1970, so `collect` cannot touch identities a real operator marked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  createLabelFilter,
  FIRST_CLUSTER_IDENTITY,
  identityKey,
  securityLabels,
  type NamedPort,
  type SecurityLabels,
} from '@palisade/core';
import type { IdentityStore, StoredIdentity } from './store.js';

/** What the factory of {@link describeIdentityStoreContract} gives each case. */
export interface ContractStores {
  /** A store over fresh (empty, or at least unrelated) data. */
  readonly store: IdentityStore;
  /** Another store over the same data, as a second operator would hold it. */
  readonly makeAnother: () => Promise<IdentityStore>;
  /** Closes every store made for the case and removes the case's data. */
  readonly cleanup: () => Promise<void>;
}

/** One label set and its key. */
interface LabelSet {
  readonly key: string;
  readonly labels: SecurityLabels;
}

const filter = createLabelFilter();

/** Builds a label set the way the operator does: through `securityLabels` and `identityKey`. */
function labelSet(
  tag: string,
  name: string,
  extra: {
    podLabels?: Record<string, string>;
    namespaceLabels?: Record<string, string>;
    namedPorts?: readonly NamedPort[];
    namespace?: string;
    serviceAccount?: string;
  } = {},
): LabelSet {
  const namespace = extra.namespace ?? `contract-${tag}`;
  const labels = securityLabels({
    namespace,
    serviceAccount: extra.serviceAccount ?? 'default',
    // The per-pod hash is filtered out, so it must not change the key.
    podLabels: {
      app: name,
      'pod-template-hash': randomBytes(4).toString('hex'),
      ...extra.podLabels,
    },
    namespaceLabels: { 'kubernetes.io/metadata.name': namespace, ...extra.namespaceLabels },
    namedPorts: extra.namedPorts ?? [],
    filter,
  });
  return { key: identityKey(labels), labels };
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Asserts that in `list` no number has two keys and no key has two numbers. */
function assertOneToOne(list: readonly StoredIdentity[]): void {
  const byId = new Map<number, string>();
  const byKey = new Map<string, number>();
  for (const s of list) {
    assert.equal(byId.get(s.id) ?? s.key, s.key, `number ${s.id} listed with two keys`);
    assert.equal(byKey.get(s.key) ?? s.id, s.id, `key ${s.key} listed with two numbers`);
    byId.set(s.id, s.key);
    byKey.set(s.key, s.id);
    assert.ok(s.id >= FIRST_CLUSTER_IDENTITY, `number ${s.id} is below ${FIRST_CLUSTER_IDENTITY}`);
  }
}

function find(list: readonly StoredIdentity[], key: string): StoredIdentity | undefined {
  return list.find((s) => s.key === key);
}

const byNumber = (a: number, b: number): number => a - b;

/**
 * Registers the identity-store contract as a node:test suite named after `name`. `make` is
 * called once per case and must give a store over fresh data, a way to open a second store
 * over the same data, and a cleanup.
 */
export function describeIdentityStoreContract(
  name: string,
  make: () => Promise<ContractStores>,
): void {
  const withStores = async (fn: (c: ContractStores, tag: string) => Promise<void>) => {
    const c = await make();
    try {
      await fn(c, randomBytes(4).toString('hex'));
    } finally {
      await c.cleanup();
    }
  };

  describe(`IdentityStore contract: ${name}`, { timeout: 120_000 }, () => {
    it('gives one key one number, different keys different numbers, from 256 up', () =>
      withStores(async ({ store }, tag) => {
        const a = labelSet(tag, 'a');
        const b = labelSet(tag, 'b');
        const a1 = await store.allocate(a.key, a.labels);
        const b1 = await store.allocate(b.key, b.labels);
        const a2 = await store.allocate(a.key, labelSet(tag, 'a').labels);
        assert.equal(a2, a1, 'same key, same number');
        assert.notEqual(a1, b1, 'different keys, different numbers');
        for (const id of [a1, b1]) {
          assert.ok(Number.isSafeInteger(id) && id >= FIRST_CLUSTER_IDENTITY, `number ${id}`);
        }
      }));

    it('keeps one-to-one numbering when two stores race 200 label sets', () =>
      withStores(async ({ store, makeAnother }, tag) => {
        const other = await makeAnother();
        const shared = Array.from({ length: 50 }, (_, i) => labelSet(tag, `shared-${i}`));
        const onlyA = Array.from({ length: 75 }, (_, i) => labelSet(tag, `a-${i}`));
        const onlyB = Array.from({ length: 75 }, (_, i) => labelSet(tag, `b-${i}`));
        const run = (s: IdentityStore, sets: LabelSet[]) =>
          sets.map(async (l) => ({ key: l.key, id: await s.allocate(l.key, l.labels) }));
        const results = await Promise.all([
          ...run(store, shuffled([...shared, ...onlyA])),
          ...run(other, shuffled([...shared, ...onlyB])),
        ]);
        assert.equal(results.length, 250);

        const idsOfKey = new Map<string, Set<number>>();
        const keysOfId = new Map<number, Set<string>>();
        for (const r of results) {
          idsOfKey.set(r.key, (idsOfKey.get(r.key) ?? new Set()).add(r.id));
          keysOfId.set(r.id, (keysOfId.get(r.id) ?? new Set()).add(r.key));
        }
        assert.equal(idsOfKey.size, 200);
        for (const [key, ids] of idsOfKey)
          assert.equal(ids.size, 1, `key ${key}: ${[...ids].join(', ')}`);
        for (const [id, keys] of keysOfId)
          assert.equal(keys.size, 1, `number ${id}: ${[...keys].join(', ')}`);
        assert.equal(keysOfId.size, 200);

        for (const s of [store, other]) {
          const list = await s.list();
          assertOneToOne(list);
          const ours = list.filter((x) => idsOfKey.has(x.key));
          assert.equal(ours.length, 200, `${s.kind} store lists all 200 identities`);
          for (const x of ours) assert.ok(idsOfKey.get(x.key)?.has(x.id), `listed ${x.key}`);
        }
      }));

    it('collects only identities marked at or before the cut-off', () =>
      withStores(async ({ store }, tag) => {
        const [a, b, c] = [labelSet(tag, 'a'), labelSet(tag, 'b'), labelSet(tag, 'c')];
        const ia = await store.allocate(a.key, a.labels);
        const ib = await store.allocate(b.key, b.labels);
        const ic = await store.allocate(c.key, c.labels);
        await store.markUnused([ia], 1000);
        await store.markUnused([ib], 5000);
        assert.deepEqual(await store.collect(999), []);
        assert.deepEqual(await store.collect(1000), [ia]);
        let list = await store.list();
        assert.equal(find(list, a.key), undefined, 'a is gone, key and number');
        assert.equal(
          list.find((x) => x.id === ia),
          undefined,
        );
        assert.equal(find(list, b.key)?.unusedSince, 5000);
        assert.equal(find(list, c.key)?.id, ic);
        assert.equal(find(list, c.key)?.unusedSince, undefined);
        assert.deepEqual(await store.collect(5000), [ib]);
        list = await store.list();
        assert.equal(find(list, b.key), undefined);
        assert.equal(find(list, c.key)?.id, ic, 'the unmarked one stays');
        // Marking a freed number is a no-op: it must not come back.
        await store.markUnused([ia, ib], 2000);
        list = await store.list();
        assert.equal(
          list.find((x) => x.id === ia || x.id === ib),
          undefined,
        );
        assert.deepEqual(await store.collect(3000), []);
      }));

    it('clears the mark on allocate (from another store), so collect keeps it', () =>
      withStores(async ({ store, makeAnother }, tag) => {
        const other = await makeAnother();
        const a = labelSet(tag, 'a');
        const ia = await store.allocate(a.key, a.labels);
        await store.markUnused([ia], 1000);
        assert.equal(find(await other.list(), a.key)?.unusedSince, 1000);
        assert.equal(await other.allocate(a.key, a.labels), ia);
        assert.equal(find(await store.list(), a.key)?.unusedSince, undefined);
        assert.equal((await store.collect(10_000)).includes(ia), false);
        assert.equal(find(await store.list(), a.key)?.id, ia);
      }));

    it('gives a freed key a new, higher number (numbers are never reused)', () =>
      withStores(async ({ store, makeAnother }, tag) => {
        const a = labelSet(tag, 'a');
        const ia = await store.allocate(a.key, a.labels);
        await store.markUnused([ia], 1000);
        assert.deepEqual(await store.collect(1000), [ia]);
        const ia2 = await store.allocate(a.key, a.labels);
        assert.notEqual(ia2, ia);
        assert.ok(ia2 > ia, `${ia2} > ${ia}`);
        const b = labelSet(tag, 'b');
        const other = await makeAnother();
        assert.ok((await other.allocate(b.key, b.labels)) > ia2, 'the counter only grows');
        assert.equal(find(await store.list(), a.key)?.id, ia2);
      }));

    it('leaves an existing unused mark as it is', () =>
      withStores(async ({ store }, tag) => {
        const a = labelSet(tag, 'a');
        const ia = await store.allocate(a.key, a.labels);
        await store.markUnused([ia], 1000);
        await store.markUnused([ia], 5000);
        await store.markUnused([ia], 500);
        assert.equal(find(await store.list(), a.key)?.unusedSince, 1000);
        assert.deepEqual(await store.collect(999), []);
        assert.deepEqual(await store.collect(1000), [ia]);
      }));

    it('never frees a number that a concurrent allocate returned', () =>
      withStores(async ({ store, makeAnother }, tag) => {
        const other = await makeAnother();
        const sets = Array.from({ length: 100 }, (_, i) => labelSet(tag, `x-${i}`));
        const ids = await Promise.all(sets.map((l) => store.allocate(l.key, l.labels)));
        await store.markUnused(ids, 1000);
        const again = sets.filter((_, i) => i % 2 === 0);
        const [returned, freed] = await Promise.all([
          Promise.all(again.map((l) => other.allocate(l.key, l.labels))),
          store.collect(1000),
        ]);
        const freedSet = new Set(freed);
        for (const id of returned) assert.equal(freedSet.has(id), false, `freed ${id} in use`);
        const list = await store.list();
        assertOneToOne(list);
        again.forEach((l, i) => assert.equal(find(list, l.key)?.id, returned[i], l.key));
        // Every identity not allocated again was freed.
        for (let i = 1; i < sets.length; i += 2) {
          assert.ok(freedSet.has(ids[i] as number), `number ${ids[i]} was not freed`);
        }
        assert.deepEqual(await store.collect(1000), [], 'nothing marked is left');
      }));

    it('lists labels exactly as allocated', () =>
      withStores(async ({ store, makeAnother }, tag) => {
        const sets = [
          labelSet(tag, 'web', {
            podLabels: { 'app.kubernetes.io/name': 'web', tier: 'frontend', 'x.io/a-b_c': 'V.1' },
            namespaceLabels: { team: 'payments', 'env.example.com/stage': 'prod' },
            namedPorts: [
              { name: 'http', port: 8080, protocol: 'TCP' },
              { name: 'dns', port: 53, protocol: 'UDP' },
              { name: 'sig', port: 9999, protocol: 'SCTP' },
            ],
            serviceAccount: 'web-sa',
          }),
          labelSet(tag, 'bare', { namespace: `other-${tag}` }),
        ];
        const ids = await Promise.all(sets.map((l) => store.allocate(l.key, l.labels)));
        const list = await (await makeAnother()).list();
        sets.forEach((l, i) => {
          const got = find(list, l.key);
          assert.ok(got, `listed ${l.key}`);
          assert.equal(got.id, ids[i]);
          assert.deepStrictEqual(got.labels, l.labels);
          assert.deepEqual(Object.keys(got.labels.podLabels), Object.keys(l.labels.podLabels));
          assert.equal(identityKey(got.labels), l.key, 'labels give back the same key');
          assert.equal(got.unusedSince, undefined);
        });
        assert.deepEqual(
          list
            .filter((x) => ids.includes(x.id))
            .map((x) => x.id)
            .sort(byNumber),
          [...ids].sort(byNumber),
        );
      }));
  });
}
