import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../errors.js';
import { InMemoryAllocator } from './allocator.js';
import { createLabelFilter, DEFAULT_EXCLUDED_LABELS } from './labelFilter.js';
import { identityKey, securityLabels } from './securityLabels.js';

const filter = createLabelFilter();
const labels = (pod: Record<string, string>, ns = 'x') =>
  securityLabels({
    namespace: ns,
    serviceAccount: 'default',
    podLabels: pod,
    namespaceLabels: { team: 'a' },
    namedPorts: [],
    filter,
  });

describe('label filter', () => {
  it('excludes the default per-pod labels and keeps the rest', () => {
    for (const k of [
      'pod-template-hash',
      'controller-revision-hash',
      'statefulset.kubernetes.io/pod-name',
      'batch.kubernetes.io/controller-uid',
      'job-name',
    ])
      assert.ok(DEFAULT_EXCLUDED_LABELS.includes(k) && !filter.isRelevant(k), k);
    assert.ok(filter.isRelevant('app'));
  });
  it('takes exclude and include patterns with *', () => {
    const f = createLabelFilter({
      exclude: ['*.internal/*', 'job-name'],
      include: ['keep.internal/*'],
    });
    assert.ok(!f.isRelevant('x.internal/id'));
    assert.ok(f.isRelevant('keep.internal/id'));
    assert.ok(!f.isRelevant('job-name'));
    assert.ok(f.isRelevant('pod-template-hash'), 'a custom exclude list replaces the defaults');
  });
});

describe('security labels and keys', () => {
  it('ignores excluded labels and label order', () => {
    assert.equal(
      identityKey(labels({ app: 'web', 'pod-template-hash': 'abc' })),
      identityKey(labels({ app: 'web' })),
    );
    assert.equal(identityKey(labels({ a: '1', b: '2' })), identityKey(labels({ b: '2', a: '1' })));
  });
  it('keeps pod labels, namespace labels and namespace apart', () => {
    const a = securityLabels({
      namespace: 'x',
      serviceAccount: 'sa',
      podLabels: { team: 'a' },
      namespaceLabels: {},
      namedPorts: [],
      filter,
    });
    const b = securityLabels({
      namespace: 'x',
      serviceAccount: 'sa',
      podLabels: {},
      namespaceLabels: { team: 'a' },
      namedPorts: [],
      filter,
    });
    assert.notEqual(identityKey(a), identityKey(b));
    assert.notEqual(
      identityKey(labels({ app: 'web' }, 'x')),
      identityKey(labels({ app: 'web' }, 'y')),
    );
  });
});

describe('in-memory allocator', () => {
  it('gives one number per label set and distinct numbers to distinct sets, from 256', async () => {
    const a = new InMemoryAllocator();
    const x1 = await a.allocate(labels({ app: 'web' }));
    const x2 = await a.allocate(labels({ app: 'web' }));
    const y = await a.allocate(labels({ app: 'db' }));
    assert.equal(x1.id, 256);
    assert.equal(x1.id, x2.id);
    assert.notEqual(x1.id, y.id);
    assert.deepEqual(await a.lookup(y.id), y);
  });
  it('frees an unused identity only after the grace period, and never reuses its number within it', async () => {
    let now = 0;
    const a = new InMemoryAllocator({ graceMs: 1000, now: () => now, first: 256, last: 257 });
    const x = await a.allocate(labels({ app: 'x' }));
    const y = await a.allocate(labels({ app: 'y' }));
    await a.release(x.id);
    now = 999;
    assert.deepEqual(await a.gc(), []);
    now = 1000;
    assert.deepEqual(await a.gc(), [x.id]);
    await a.release(y.id);
    // Range exhausted; x's number is in quarantine until 2000.
    now = 1500;
    await assert.rejects(
      a.allocate(labels({ app: 'z' })),
      (e: unknown) => e instanceof EngineError && e.code === 'IdentityExhausted',
    );
    now = 2000;
    const z = await a.allocate(labels({ app: 'z' }));
    assert.equal(z.id, x.id);
  });
  it('keeps the number of a label set re-used within the grace period', async () => {
    let now = 0;
    const a = new InMemoryAllocator({ graceMs: 1000, now: () => now });
    const x = await a.allocate(labels({ app: 'x' }));
    await a.release(x.id);
    now = 500;
    assert.equal((await a.allocate(labels({ app: 'x' }))).id, x.id);
    now = 5000;
    assert.deepEqual(await a.gc(), [], 'referenced again: not freed');
  });
});
