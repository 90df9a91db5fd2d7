/**
 * The operator with the Redis identity store (real redis-server, real kube-apiserver):
 * numbers come from Redis, survive an operator restart, and a Redis restart mid-run is
 * ridden out: pods created while Redis is down are compiled once it is back, nothing
 * already compiled changes, and the process never crashes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisIdentityStore, type KubeClient } from '@palisade/operator';
import { startRedis, type RedisServer } from '@palisade/operator/testing';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import {
  adminClient,
  createPod,
  ensureNamespace,
  OPERATOR_NS,
  startOperator,
  testLogger,
  podIdentities,
  waitFor,
  type RunningOperator,
} from './testCluster.js';

const NS = 'redis-ns';

describe('operator: Redis identity store', () => {
  let cp: ControlPlane;
  let redis: RedisServer;
  let client: KubeClient;
  let op: RunningOperator;
  const start = (id: string): Promise<RunningOperator> =>
    startOperator(cp, {
      id,
      store: new RedisIdentityStore({ url: redis.url, logger: testLogger(`${id}-redis`) }),
    });

  before(async () => {
    [cp, redis] = await Promise.all([startControlPlane(), startRedis()]);
    await cp.applyCrds();
    client = adminClient(cp);
    await ensureNamespace(client, OPERATOR_NS);
    await ensureNamespace(client, NS);
    for (let i = 0; i < 20; i++)
      await createPod(client, {
        namespace: NS,
        name: `p${i}`,
        labels: { app: `a${i % 5}` },
        ips: [`10.7.0.${i + 1}`],
      });
    op = await start('redis-a');
  });

  after(async () => {
    await op?.stop();
    client?.close();
    await Promise.all([cp?.stop(), redis?.stop()]);
  });

  it('allocates from Redis and keeps numbers across an operator restart', async () => {
    const first = await waitFor('20 endpoints', () => {
      const m = podIdentities(op);
      return m.size === 20 ? m : undefined;
    });
    assert.equal(new Set(first.values()).size, 5);
    const stored = await op.store.list();
    for (const id of first.values())
      assert.ok(
        stored.some((s) => s.id === id),
        `identity ${id} in Redis`,
      );
    assert.equal(stored.filter((s) => s.labels.namespace === NS).length, 5);
    await op.stop();
    op = await start('redis-b');
    const again = await waitFor('20 endpoints after restart', () => {
      const m = podIdentities(op);
      return m.size === 20 ? m : undefined;
    });
    assert.deepEqual([...again].sort(), [...first].sort());
  });

  it('rides out a Redis restart: pods created meanwhile are compiled when Redis is back', async () => {
    const before = podIdentities(op);
    await redis.kill();
    await createPod(client, {
      namespace: NS,
      name: 'during-outage',
      labels: { app: 'new-during-outage' },
      ips: ['10.7.1.1'],
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      podIdentities(op).has(`${NS}/during-outage`),
      false,
      'no number without the store',
    );
    await redis.start();
    const id = await waitFor(
      'compiled after Redis returned',
      () => podIdentities(op).get(`${NS}/during-outage`),
      30_000,
    );
    assert.ok(id >= 256);
    for (const [pod, n] of before)
      assert.equal(podIdentities(op).get(pod), n, `${pod} kept its number`);
    const errors = await op.metrics.registry.getSingleMetricAsString(
      'palisade_identity_store_errors_total',
    );
    assert.match(errors, /store="redis",op="allocate"\} [1-9]/);
    assert.equal(op.operator.isLeader, true);
  });
});
