/**
 * The identity-store contract (one number per label set, one label set per number, even
 * with two stores racing; marks, collection, no reuse) against the CRD store on a real
 * kube-apiserver, plus what is particular to it: the counter rebuilt above existing numbers,
 * kubectl's view, and an apiserver restart mid-run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLabelFilter, identityKey, securityLabels } from '@palisade/core';
import { CrdIdentityStore, OperatorError, Resources, type KubeClient } from '@palisade/operator';
import { describeIdentityStoreContract } from '@palisade/operator/testing';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { adminClient, ensureNamespace, OPERATOR_NS } from './testCluster.js';

let cp: ControlPlane;
const clients: KubeClient[] = [];

before(async () => {
  cp = await startControlPlane();
  await cp.applyCrds();
  const c = adminClient(cp);
  clients.push(c);
  await ensureNamespace(c, OPERATOR_NS);
});

after(async () => {
  for (const c of clients) c.close();
  await cp?.stop();
});

function newStore(blockSize?: number): CrdIdentityStore {
  const client = adminClient(cp);
  clients.push(client);
  return new CrdIdentityStore({
    client,
    namespace: OPERATOR_NS,
    ...(blockSize ? { blockSize } : {}),
  });
}

describeIdentityStoreContract('CrdIdentityStore (real kube-apiserver)', () =>
  Promise.resolve({
    // Small blocks so two racing stores interleave their numbers.
    store: newStore(4),
    makeAnother: () => Promise.resolve(newStore(4)),
    cleanup: () => Promise.resolve(),
  }),
);

const filter = createLabelFilter();
const labels = (app: string) =>
  securityLabels({
    namespace: 'crd',
    serviceAccount: 'default',
    podLabels: { app },
    namespaceLabels: { 'kubernetes.io/metadata.name': 'crd' },
    namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    filter,
  });

describe('CrdIdentityStore specifics', () => {
  it('rebuilds a lost counter above the highest existing number', async () => {
    const s = newStore();
    const a = await s.allocate(identityKey(labels('counter-a')), labels('counter-a'));
    await clients[0]!.delete(Resources.configMaps, 'palisade-identity-counter', OPERATOR_NS);
    const fresh = newStore();
    const b = await fresh.allocate(identityKey(labels('counter-b')), labels('counter-b'));
    assert.ok(b > a, `${b} > ${a}`);
  });

  it('identities are readable with kubectl (ID, namespace, unused-since columns)', async () => {
    const s = newStore();
    const l = labels('kubectl-view');
    const id = await s.allocate(identityKey(l), l);
    await s.markUnused([id], Date.UTC(2026, 0, 2));
    const out = await cp.kubectlOk(['get', 'sid', '-l', `palisade.dev/identity=${id}`]);
    assert.match(out, /ID\s+NAMESPACE/);
    assert.match(
      out,
      new RegExp(`sid-[0-9a-f]{40}\\s+${id}\\s+crd\\s+default\\s+2026-01-02T00:00:00.000Z`),
    );
  });

  it('fails with IDENTITY_STORE while the apiserver is down, and works again after', async () => {
    const s = newStore();
    await cp.stopApiserver();
    try {
      await assert.rejects(
        s.allocate(identityKey(labels('down')), labels('down')),
        (e: unknown) => e instanceof OperatorError && e.code === 'IDENTITY_STORE',
      );
    } finally {
      await cp.startApiserver();
    }
    const id = await s.allocate(identityKey(labels('down')), labels('down'));
    assert.equal(await s.allocate(identityKey(labels('down')), labels('down')), id);
  });
});
