import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createLabelFilter,
  identityKey,
  securityLabels,
  type SecurityLabels,
} from '@palisade/core';
import { MemoryIdentityStore } from '../testing/memoryStore.js';
import { IdentityManager } from './identityManager.js';

const filter = createLabelFilter();
function labels(app: string, extra: Record<string, string> = {}): SecurityLabels {
  return securityLabels({
    namespace: 'default',
    serviceAccount: 'default',
    podLabels: { app, ...extra },
    namespaceLabels: { 'kubernetes.io/metadata.name': 'default' },
    namedPorts: [],
    filter,
  });
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('IdentityManager', () => {
  it('numbers come from the store; acquire without ensure is refused', async () => {
    const store = new MemoryIdentityStore();
    const m = new IdentityManager({ store });
    const l = labels('web');
    assert.throws(() => m.acquire(identityKey(l), l), /ensure\(\) must come first/);
    const id = await m.ensure(l);
    assert.equal(m.acquire(identityKey(l), l), id);
    assert.equal(store.byKey.get(identityKey(l))?.id, id);
    // A second ensure while referenced does not go to the store.
    const calls = store.calls.allocate;
    assert.equal(await m.ensure(l), id);
    assert.equal(store.calls.allocate, calls);
  });

  it('marks unused at zero references, GC frees only after the grace period', async () => {
    let now = 1_000_000;
    const store = new MemoryIdentityStore();
    const m = new IdentityManager({ store, graceMs: 60_000, now: () => now });
    const l = labels('web');
    const key = identityKey(l);
    const id = await m.ensure(l);
    m.acquire(key, l);
    m.drop(key);
    await tick();
    await m.idle();
    assert.equal(store.byKey.get(key)?.unusedSince, 1_000_000);
    now += 59_999;
    assert.deepEqual(await m.gc(), []);
    now += 1;
    assert.deepEqual(await m.gc(), [id]);
    assert.equal(m.numberOf(l), undefined);
    // Re-used after GC: a new number, never the freed one.
    const again = await m.ensure(l);
    assert.notEqual(again, id);
  });

  it('re-use within the grace clears the mark and keeps the number', async () => {
    let now = 0;
    const store = new MemoryIdentityStore();
    const m = new IdentityManager({ store, graceMs: 1000, now: () => now });
    const l = labels('api');
    const key = identityKey(l);
    const id = await m.ensure(l);
    m.acquire(key, l);
    m.drop(key);
    await tick();
    await m.idle();
    now = 500;
    assert.equal(await m.ensure(l), id);
    m.acquire(key, l);
    assert.equal(store.byKey.get(key)?.unusedSince, undefined);
    now = 5000;
    assert.deepEqual(await m.gc(), []);
  });

  it('an ensure pins the identity against a concurrent mark until its caller ran', async () => {
    const store = new MemoryIdentityStore();
    const m = new IdentityManager({ store, graceMs: 0 });
    const l = labels('pinned');
    const key = identityKey(l);
    await m.ensure(l);
    m.acquire(key, l);
    m.drop(key); // queues a mark
    const id = await m.ensure(l); // resolves after the mark op ran or skipped
    m.acquire(key, l);
    await tick();
    await m.idle();
    assert.equal(store.byKey.get(key)?.unusedSince, undefined, 'in use, so not marked');
    assert.deepEqual(await m.gc(), []);
    assert.equal(m.numberOf(l), id);
  });

  it('sweep marks what nobody uses and repairs marks on what is used', async () => {
    const store = new MemoryIdentityStore();
    const orphan = labels('orphan');
    const used = labels('used');
    await store.allocate(identityKey(orphan), orphan);
    const usedId = await store.allocate(identityKey(used), used);
    const m = new IdentityManager({ store, now: () => 42 });
    await m.ensure(used);
    m.acquire(identityKey(used), used);
    await store.markUnused([usedId], 1); // a stale mark from an earlier leader
    const r = await m.sweep();
    assert.deepEqual(r, { marked: 1, cleared: 1 });
    assert.equal(store.byKey.get(identityKey(orphan))?.unusedSince, 42);
    assert.equal(store.byKey.get(identityKey(used))?.unusedSince, undefined);
  });

  it('store failures reject ensure and are reported; a later ensure succeeds', async () => {
    const store = new MemoryIdentityStore();
    const errors: string[] = [];
    const m = new IdentityManager({ store, hooks: { storeError: (op) => errors.push(op) } });
    store.failing = true;
    await assert.rejects(m.ensure(labels('x')), /store unavailable/);
    assert.deepEqual(errors, ['allocate']);
    store.failing = false;
    assert.equal(typeof (await m.ensure(labels('x'))), 'number');
  });

  it('reports a label key that produces more identities than the threshold, once', async () => {
    const store = new MemoryIdentityStore();
    const reports: [string, number][] = [];
    const m = new IdentityManager({
      store,
      highCardinalityThreshold: 5,
      hooks: { highCardinality: (k, n) => reports.push([k, n]) },
    });
    for (let i = 0; i < 10; i++) {
      const l = labels('churn', { 'request-id': `r${i}` });
      await m.ensure(l);
      m.acquire(identityKey(l), l);
    }
    assert.deepEqual(reports, [['request-id', 6]]);
  });
});
