/**
 * Identities through the whole operator on a real kube-apiserver (CRD store): pod churn
 * with shared and unique label sets, numbers kept across an operator restart and a leader
 * handover, GC after the grace period and never before, high-cardinality reports, and an
 * apiserver restart mid-run that the operator rides out without restarting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Resources,
  UNUSED_SINCE_ANNOTATION,
  type KubeClient,
  type SecurityIdentityObject,
} from '@palisade/operator';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import {
  adminClient,
  createPod,
  deletePod,
  ensureNamespace,
  OPERATOR_NS,
  startOperator,
  podIdentities,
  waitFor,
  type RunningOperator,
} from './testCluster.js';

const NS = 'churn';
const GRACE_MS = 2500;

async function identities(client: KubeClient): Promise<SecurityIdentityObject[]> {
  return (await client.listAll<SecurityIdentityObject>(Resources.securityIdentities)).items;
}

describe('operator: identities on a real apiserver', () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let op: RunningOperator;

  before(async () => {
    cp = await startControlPlane();
    await cp.applyCrds();
    client = adminClient(cp);
    await ensureNamespace(client, OPERATOR_NS);
    await ensureNamespace(client, NS, { env: 'test' });
    op = await startOperator(cp, {
      id: 'op-a',
      graceMs: GRACE_MS,
      gcIntervalMs: 200,
      highCardinalityThreshold: 8,
    });
  });

  after(async () => {
    await op?.stop();
    client?.close();
    await cp?.stop();
  });

  it('pods with shared labels share one identity; unique label sets get their own; one object each', async () => {
    const pods: Promise<void>[] = [];
    for (let i = 0; i < 40; i++)
      pods.push(
        createPod(client, {
          namespace: NS,
          name: `shared-${i}`,
          labels: { app: `svc-${i % 4}`, 'pod-template-hash': `h${i}` },
          ips: [`10.9.0.${i + 1}`],
        }),
      );
    for (let i = 0; i < 12; i++)
      pods.push(
        createPod(client, {
          namespace: NS,
          name: `unique-${i}`,
          labels: { app: 'batch', run: `r${i}` },
          ips: [`10.9.1.${i + 1}`],
        }),
      );
    await Promise.all(pods);
    const ids = await waitFor('52 endpoints', () => {
      const m = podIdentities(op);
      return m.size === 52 ? m : undefined;
    });
    const shared = new Set([...ids].filter(([k]) => k.includes('shared-')).map(([, v]) => v));
    const unique = new Set([...ids].filter(([k]) => k.includes('unique-')).map(([, v]) => v));
    assert.equal(shared.size, 4, 'pod-template-hash is not security-relevant');
    assert.equal(unique.size, 12);
    for (let i = 0; i < 40; i++)
      assert.equal(ids.get(`${NS}/shared-${i}`), ids.get(`${NS}/shared-${i % 4}`));
    const objs = await identities(client);
    const byId = new Map(objs.map((o) => [o.spec.id, o]));
    for (const id of [...shared, ...unique]) {
      const o = byId.get(id);
      assert.ok(o, `SecurityIdentity for ${id}`);
      assert.equal(o.spec.namespace, NS);
      assert.equal(o.spec.namespaceLabels.env, 'test');
      assert.equal(o.metadata.annotations?.[UNUSED_SINCE_ANNOTATION], undefined);
    }
    assert.equal(
      new Set(objs.map((o) => o.spec.key)).size,
      objs.length,
      'one object per label set',
    );
    assert.ok([...shared, ...unique].every((id) => id >= 256));
  });

  it('reports a high-cardinality label key (metric and Kubernetes Event)', async () => {
    const text = await op.metrics.registry.getSingleMetricAsString(
      'palisade_identity_high_cardinality_labels_total',
    );
    assert.match(text, /label_key="run"\} 1/);
    await waitFor('HighCardinalityLabel event', async () => {
      const evs = await client.list(Resources.events, {
        namespace: NS,
        fieldSelector: 'reason=HighCardinalityLabel',
      });
      return evs.items.length > 0;
    });
  });

  it('keeps every number across an operator restart', async () => {
    const before = podIdentities(op);
    await op.stop();
    op = await startOperator(cp, { id: 'op-a2', graceMs: GRACE_MS, gcIntervalMs: 200 });
    const after = await waitFor('52 endpoints after restart', () => {
      const m = podIdentities(op);
      return m.size === 52 ? m : undefined;
    });
    assert.deepEqual([...after].sort(), [...before].sort());
  });

  it('a standby takes over when the leader stops, with the same numbers', async () => {
    const before = podIdentities(op);
    const standby = await startOperator(cp, {
      id: 'op-b',
      graceMs: GRACE_MS,
      gcIntervalMs: 200,
      waitReady: false,
    });
    try {
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(standby.operator.isLeader, false, 'only one leader');
      assert.match(standby.operator.ready().detail, /standby \(leader: op-a2\)/);
      const t0 = Date.now();
      await op.stop(); // releases the lease
      await waitFor(
        'standby leads',
        () => standby.operator.isLeader && standby.operator.ready().ok,
        20_000,
      );
      const tookOver = Date.now() - t0;
      assert.ok(tookOver < 5000, `takeover took ${tookOver} ms`);
      const after = await waitFor('52 endpoints on the new leader', () => {
        const m = podIdentities(standby);
        return m.size === 52 ? m : undefined;
      });
      assert.deepEqual([...after].sort(), [...before].sort());
    } finally {
      op = standby;
    }
  });

  it('frees an unused identity after the grace period and never before; its number is not reused', async () => {
    const ids = podIdentities(op);
    const freedId = ids.get(`${NS}/unique-0`);
    assert.ok(freedId);
    const t0 = Date.now();
    await deletePod(client, NS, 'unique-0');
    const marked = await waitFor('marked unused', async () => {
      const o = (await identities(client)).find((x) => x.spec.id === freedId);
      return o?.metadata.annotations?.[UNUSED_SINCE_ANNOTATION];
    });
    assert.ok(Date.parse(marked) >= t0 - 1000);
    // Still there half-way through the grace period.
    await new Promise((r) => setTimeout(r, GRACE_MS / 2));
    assert.ok(
      (await identities(client)).some((x) => x.spec.id === freedId),
      'kept during the grace period',
    );
    await waitFor(
      'freed after the grace period',
      async () => !(await identities(client)).some((x) => x.spec.id === freedId),
      GRACE_MS + 10_000,
    );
    assert.ok(Date.now() - t0 >= GRACE_MS, 'not before the grace period');
    // Shared identities whose pods still exist were never marked.
    for (const o of await identities(client))
      if (o.spec.podLabels.app?.startsWith('svc-'))
        assert.equal(o.metadata.annotations?.[UNUSED_SINCE_ANNOTATION], undefined);
    // The same labels again: a new number, never the freed one.
    await createPod(client, {
      namespace: NS,
      name: 'unique-0',
      labels: { app: 'batch', run: 'r0' },
      ips: ['10.9.1.1'],
    });
    const again = await waitFor('new identity', () => podIdentities(op).get(`${NS}/unique-0`));
    assert.ok(again > freedId, `${again} > ${freedId}`);
  });

  it('re-use within the grace period keeps the number', async () => {
    const id = podIdentities(op).get(`${NS}/unique-1`);
    await deletePod(client, NS, 'unique-1');
    await waitFor(
      'marked',
      async () =>
        (await identities(client)).find((x) => x.spec.id === id)?.metadata.annotations?.[
          UNUSED_SINCE_ANNOTATION
        ],
    );
    await createPod(client, {
      namespace: NS,
      name: 'unique-1b',
      labels: { app: 'batch', run: 'r1' },
      ips: ['10.9.1.50'],
    });
    assert.equal(await waitFor('same number', () => podIdentities(op).get(`${NS}/unique-1b`)), id);
    await waitFor(
      'mark cleared',
      async () =>
        (await identities(client)).find((x) => x.spec.id === id)?.metadata.annotations?.[
          UNUSED_SINCE_ANNOTATION
        ] === undefined,
    );
    await new Promise((r) => setTimeout(r, GRACE_MS + 500));
    assert.ok(
      (await identities(client)).some((x) => x.spec.id === id),
      'not freed: it is in use',
    );
  });

  it('rides out an apiserver restart without restarting, and catches up on what changed', async () => {
    await cp.stopApiserver();
    await new Promise((r) => setTimeout(r, 1500));
    await cp.startApiserver();
    await createPod(client, {
      namespace: NS,
      name: 'after-restart',
      labels: { app: 'late' },
      ips: ['10.9.2.1'],
    });
    await waitFor(
      'pod after restart compiled',
      () => podIdentities(op).get(`${NS}/after-restart`),
      30_000,
    );
    // The same Operator object leads again (it steps down while the lease cannot be
    // renewed, which is what a leader must do, and takes it back when the apiserver returns).
    assert.equal(op.operator.isLeader, true);
    assert.match(
      await op.metrics.registry.getSingleMetricAsString('palisade_operator_leader'),
      /palisade_operator_leader 1/,
    );
  });

  it('GC keeps up with 100 pods/s of churn with unique label sets', async () => {
    const churnNs = 'churn-fast';
    await ensureNamespace(client, churnNs);
    const counter = async (name: string): Promise<number> =>
      Number(
        /store="crd"\} (\d+)/.exec(await op.metrics.registry.getSingleMetricAsString(name))?.[1] ??
          0,
      );
    const allocated0 = await counter('palisade_identities_allocated_total');
    const freed0 = await counter('palisade_identities_freed_total');
    const t0 = Date.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) {
      // 100 pods/s: pod i is created at i×10 ms and deleted 500 ms later.
      const due = t0 + i * 10;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      inflight.push(
        (async () => {
          const name = `c${i}`;
          await createPod(client, {
            namespace: churnNs,
            name,
            labels: { app: 'job', run: `u${i}` },
            ips: [`10.10.${i >> 8}.${i & 255}`],
          });
          await new Promise((r) => setTimeout(r, 500));
          await deletePod(client, churnNs, name);
        })(),
      );
    }
    await Promise.all(inflight);
    const rate = 500 / ((Date.now() - t0) / 1000);
    assert.ok(rate > 60, `churn rate ${rate.toFixed(0)} pods/s`);
    // Every churned identity is freed within grace + a few GC rounds after the churn stops.
    await waitFor(
      'churned identities freed',
      async () => !(await identities(client)).some((o) => o.spec.namespace === churnNs),
      GRACE_MS + 20_000,
    );
    // Most pods lived long enough to be compiled (a pod deleted before its reconcile needs
    // no identity), and every identity the churn allocated was freed again.
    const allocated = (await counter('palisade_identities_allocated_total')) - allocated0;
    const freed = (await counter('palisade_identities_freed_total')) - freed0;
    assert.ok(allocated >= 250, `allocated ${allocated}`);
    assert.ok(freed >= allocated, `freed ${freed} of ${allocated}`);
  });
});
