/**
 * The operator's kube layer against a real kube-apiserver: informers (list, watch, 410 Gone
 * after an apiserver restart → list again, deletions seen in a re-list) and leader election
 * (never two leaders, takeover after the leader steps down).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Informer,
  LeaderElector,
  Resources,
  type InformerEvent,
  type KubeClient,
  type KubeObject,
} from '@palisade/operator';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { adminClient, ensureNamespace, waitFor } from './testCluster.js';

const NS = 'kube-layer';

function configMap(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data };
}

describe('kube layer on a real apiserver', () => {
  let cp: ControlPlane;
  let client: KubeClient;

  before(async () => {
    cp = await startControlPlane();
    client = adminClient(cp);
    await ensureNamespace(client, NS);
  });

  after(async () => {
    client?.close();
    await cp?.stop();
  });

  it('informer: lists, follows changes, lists again after 410 Gone, and reports deletions found by a re-list', async () => {
    await client.create(Resources.configMaps, configMap('a'));
    const inf = new Informer({
      client,
      resource: Resources.configMaps,
      namespace: NS,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const events: InformerEvent<KubeObject>[] = [];
    inf.on((e) => events.push(e));
    let ac = new AbortController();
    let run = inf.run(ac.signal);
    await inf.synced;
    assert.ok(inf.get(`${NS}/a`));
    await client.create(Resources.configMaps, configMap('b'));
    await client.mergePatch(Resources.configMaps, 'a', NS, { data: { x: '1' } });
    await client.delete(Resources.configMaps, 'b', NS);
    await waitFor(
      'three events',
      () => events.filter((e) => e.key !== `${NS}/kube-root-ca.crt`).length >= 4,
    );
    assert.deepEqual(
      events.filter((e) => !e.key.endsWith('kube-root-ca.crt')).map((e) => `${e.type} ${e.key}`),
      [`upsert ${NS}/a`, `upsert ${NS}/b`, `upsert ${NS}/a`, `delete ${NS}/b`],
    );
    assert.equal((inf.get(`${NS}/a`)?.data as Record<string, string>).x, '1');

    // An apiserver restart drops its watch cache: the informer's resourceVersion is too old
    // (410 Gone), so it lists again; it never throws.
    await cp.restartApiserver();
    await client.create(Resources.configMaps, configMap('c'));
    await waitFor('c after restart', () => inf.get(`${NS}/c`), 30_000);
    assert.ok(inf.stats.failures + inf.stats.gone >= 1, JSON.stringify(inf.stats));

    // Stopped, then a deletion it cannot see, then started again: the re-list reports it.
    ac.abort();
    await run;
    await client.delete(Resources.configMaps, 'c', NS);
    events.length = 0;
    ac = new AbortController();
    run = inf.run(ac.signal);
    await waitFor('delete from re-list', () =>
      events.some((e) => e.type === 'delete' && e.key === `${NS}/c`),
    );
    assert.equal(inf.get(`${NS}/c`), undefined);
    ac.abort();
    await run;
  });

  it('leader election: never two leaders; a standby takes over when the leader steps down', async () => {
    const electors = ['e1', 'e2', 'e3'].map(
      (id) =>
        new LeaderElector({
          client,
          namespace: NS,
          name: 'test-lease',
          identity: id,
          leaseDurationSeconds: 2,
          renewDeadlineMs: 1500,
          retryPeriodMs: 100,
          onStartedLeading: () => {},
        }),
    );
    const acs = electors.map(() => new AbortController());
    const runs = electors.map((e, i) => e.run(acs[i]!.signal));
    let maxLeaders = 0;
    const sample = setInterval(() => {
      maxLeaders = Math.max(maxLeaders, electors.filter((e) => e.isLeader).length);
    }, 10);
    try {
      const first = await waitFor('a leader', () => electors.find((e) => e.isLeader));
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(first.isLeader, true, 'the leader keeps renewing');
      const i = electors.indexOf(first);
      const t0 = Date.now();
      acs[i]!.abort();
      await runs[i];
      const second = await waitFor(
        'another leader',
        () => electors.find((e) => e !== first && e.isLeader),
        10_000,
      );
      assert.ok(Date.now() - t0 < 3000, 'released lease is taken at once');
      assert.notEqual(second, first);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(maxLeaders, 1);
    } finally {
      clearInterval(sample);
      acs.forEach((a) => a.abort());
      await Promise.all(runs);
    }
  });
});
