import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { feedEngine, InMemoryAllocator, parseObject, PolicyEngine, Reserved } from '@palisade/core';
import {
  EP_FLAGS,
  endpointValue,
  ipcacheValue,
  policyKey,
  policyValue,
  VERDICT,
} from '../bpf/layouts.js';
import { desiredMaps, ruleRef } from './desired.js';
import { diffSize, diffTables } from './diff.js';
import type { LocalEndpoint } from './endpoint.js';

function engineWith(objects: unknown[]): PolicyEngine {
  const e = new PolicyEngine({ numbering: new InMemoryAllocator() });
  feedEngine(
    e,
    objects.map((o) => parseObject(o)),
  );
  e.flush();
  return e;
}

const pod = (name: string, ip: string, labels: Record<string, string>): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'x', labels },
  status: { podIP: ip },
});
const ep = (name: string, ifindex: number, ip: string): LocalEndpoint => ({
  containerId: `c-${name}`,
  pod: `x/${name}`,
  netns: '',
  ifName: 'eth0',
  hostIfName: `h${name}`,
  hostIfIndex: ifindex,
  ips: [ip],
});

const OBJECTS = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } },
  pod('a', '10.0.0.1', { app: 'a' }),
  pod('b', '10.0.0.2', { app: 'b' }),
  pod('elsewhere', '10.0.9.9', { app: 'e' }),
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'b', namespace: 'x' },
    spec: {
      podSelector: { matchLabels: { app: 'b' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }],
    },
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'e', namespace: 'x' },
    spec: { podSelector: { matchLabels: { app: 'e' } }, policyTypes: ['Egress'] },
  },
];

/** FNV-1a of a string's UTF-16 code units, as ruleRef is specified. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h === 0 ? 1 : h;
}

describe('desired maps', () => {
  const e = engineWith(OBJECTS);
  const s = e.compiled;
  const idOf = (name: string): number => s.endpoints.get(`x/${name}`)?.identity ?? -1;

  it('endpoints carry identity and isolation flags; unknown pods are NOT_READY', () => {
    const d = desiredMaps(s, [
      ep('a', 10, '10.0.0.1'),
      ep('b', 11, '10.0.0.2'),
      ep('ghost', 12, '10.0.0.3'),
    ]);
    const val = (ifindex: number) => {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(ifindex);
      const e = d.endpoints.find(k, 0);
      assert.ok(e >= 0);
      return endpointValue.decode(d.endpoints.valueAt(e), 0);
    };
    assert.deepEqual(val(10), { identity: idOf('a'), flags: 0 });
    assert.deepEqual(val(11), { identity: idOf('b'), flags: EP_FLAGS.ingressIsolated });
    assert.deepEqual(val(12), { identity: Reserved.Init, flags: EP_FLAGS.notReady });
  });

  it('holds the policy entries of local identities only, with rule references', () => {
    const d = desiredMaps(s, [ep('b', 11, '10.0.0.2')]);
    assert.ok(d.policy.size > 0);
    for (let i = 0; i < d.policy.size; i++) {
      const key = policyKey.decode(d.policy.keyAt(i), 0);
      assert.equal(key.subject, idOf('b'), 'only b (the local endpoint) has entries');
      const val = policyValue.decode(d.policy.valueAt(i), 0);
      assert.equal(val.verdict, VERDICT.allow);
      const rules = d.rules.get(val.ruleRef);
      assert.ok(rules?.every((r) => r.startsWith('NetworkPolicy/x/b:')));
      assert.equal(ruleRef(rules ?? []), val.ruleRef);
    }
    assert.equal(ruleRef(['a', 'b']), fnv1a('a\nb'), 'ruleRef hashes the ids joined by newlines');
    const none = desiredMaps(s, [ep('a', 10, '10.0.0.1')]);
    assert.equal(
      none.policy.size,
      0,
      "a is selected by no policy: it has no entries, e's stay off this node",
    );
  });

  it('keeps every ipcache prefix (a remote address never falls back to world)', () => {
    const d = desiredMaps(s, []);
    assert.equal(d.ipcache.size, s.ipcache.size);
    const ids = Array.from({ length: d.ipcache.size }, (_, i) =>
      ipcacheValue.decode(d.ipcache.valueAt(i), 0),
    ).sort();
    assert.deepEqual(ids, [...s.ipcache.values()].sort());
  });

  it('a policy change diffs to exactly the changed entries', () => {
    const before = desiredMaps(s, [ep('a', 10, '10.0.0.1'), ep('b', 11, '10.0.0.2')]);
    const e2 = engineWith([
      ...OBJECTS.slice(0, 4),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'b', namespace: 'x' },
        spec: {
          podSelector: { matchLabels: { app: 'b' } },
          ingress: [
            {
              from: [{ podSelector: { matchLabels: { app: 'a' } } }],
              ports: [{ port: 80 }, { port: 443 }],
            },
          ],
        },
      },
    ]);
    const after = desiredMaps(e2.compiled, [ep('a', 10, '10.0.0.1'), ep('b', 11, '10.0.0.2')]);
    const d = diffTables(after.policy, before.policy);
    assert.equal(d.remove.count, 0);
    assert.ok(d.upsert.count >= 1 && d.upsert.count <= 2, `${d.upsert.count} upserts`);
    assert.equal(diffSize(diffTables(before.policy, before.policy)), 0);
    const back = diffTables(before.policy, after.policy);
    assert.equal(diffSize(back), diffSize(d), 'undoing the change is as many changes');
  });
});

describe('desiredIpcache with host addresses', () => {
  it("maps this node's addresses to host, over the cluster-wide remote-node entry", async () => {
    const { desiredIpcache } = await import('./desired.js');
    const { emptyState } = await import('@palisade/core');
    const state = emptyState();
    state.ipcache.set('198.18.1.11/32', Reserved.RemoteNode);
    state.ipcache.set('10.1.2.0/24', 300);
    const t = desiredIpcache(state, undefined, ['198.18.1.11', '169.254.1.1', 'fe80::1']);
    const identities: number[] = [];
    for (let e = 0; e < t.size; e++)
      identities.push(ipcacheValue.decode(t.values, e * ipcacheValue.size));
    assert.equal(t.size, 4, 'the node address replaces its remote-node entry; two gateways added');
    assert.deepEqual(
      identities.sort((a, b) => a - b),
      [Reserved.Host, Reserved.Host, Reserved.Host, 300],
    );
  });
});
