/**
 * Palisade policy semantics end to end through the compiler and the evaluator:
 * deny beats allow across policies, entities, CIDR sets, ranges, ICMP, L7 redirects,
 * identity sharing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Reserved } from '../identity/reserved.js';
import { compile, np, ns, pnp, pod, verdict } from '../testing/compile.js';
import { policyEntries, policyEntryCount } from './compiledState.js';

const world = [ns('app', { team: 'a' }), ns('db', { team: 'b' })];
const web = pod('app', 'web', { app: 'web' }, '10.0.1.1', [{ name: 'http', containerPort: 8080 }]);
const web2 = pod('app', 'web2', { app: 'web' }, '10.0.1.2', [
  { name: 'http', containerPort: 8080 },
]);
const api = pod('app', 'api', { app: 'api' }, '10.0.1.3,fd00::3');
const pg = pod('db', 'pg', { app: 'pg' }, '10.0.2.1,fd00::21', [
  { name: 'pg', containerPort: 5432 },
]);
const EXT = '203.0.113.9';

describe('Palisade semantics', () => {
  it('deny beats allow across policies and kinds', () => {
    const { ev } = compile([
      ...world,
      web,
      api,
      pg,
      np('db', 'allow-all', { podSelector: {}, ingress: [{}] }),
      pnp('db', 'no-web', {
        endpointSelector: {},
        ingressDeny: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { team: 'a' } },
                endpointSelector: { matchLabels: { app: 'web' } },
              },
            ],
          },
        ],
      }),
    ]);
    assert.equal(verdict(ev, '10.0.1.1', '10.0.2.1', 5432), 'deny');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.2.1', 5432), 'allow');
  });

  it('a deny-only policy does not isolate', () => {
    const { engine, ev } = compile([
      ...world,
      web,
      api,
      pnp('app', 'd', {
        endpointSelector: { matchLabels: { app: 'api' } },
        ingressDeny: [{ ports: [{ port: 22 }] }],
      }),
    ]);
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 22), 'deny');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 80), 'allow');
    const apiId = engine.compiled.endpoints.get('app/api')!.identity;
    assert.deepEqual(engine.compiled.isolation.get(apiId), { ingress: false, egress: false });
  });

  it('an empty ingress list isolates (default deny)', () => {
    const { ev } = compile([
      ...world,
      web,
      api,
      pnp('app', 'iso', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [] }),
    ]);
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 80), 'deny');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.1', 80), 'allow');
  });

  it('entities: world, cluster, all', () => {
    const { ev } = compile([
      ...world,
      web,
      api,
      pnp('app', 'e', {
        endpointSelector: { matchLabels: { app: 'web' } },
        ingress: [
          { from: [{ entity: 'world' }], ports: [{ port: 443 }] },
          { from: [{ entity: 'cluster' }], ports: [{ port: 80 }] },
        ],
      }),
      pnp('app', 'all', {
        endpointSelector: { matchLabels: { app: 'api' } },
        ingress: [{ from: [{ entity: 'all' }], ports: [{ port: 9 }] }],
      }),
    ]);
    assert.equal(verdict(ev, EXT, '10.0.1.1', 443), 'allow');
    assert.equal(verdict(ev, EXT, '10.0.1.1', 80), 'deny');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.1', 80), 'allow');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.1', 443), 'deny');
    assert.equal(verdict(ev, EXT, '10.0.1.3', 9), 'allow');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 9), 'allow');
    assert.equal(ev.identityOf(EXT), Reserved.World);
  });

  it('node addresses map to remote-node; a node keeps an address a pod also claims', () => {
    const { engine, ev } = compile([
      ...world,
      web,
      pnp('app', 'n', {
        endpointSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ entity: 'remote-node' }], ports: [{ port: 10250 }] }],
      }),
    ]);
    engine.upsertNode('n1', ['192.168.0.11', 'fd00:192::11']);
    engine.upsertPod({
      namespace: 'app',
      name: 'squatter',
      labels: { app: 'x' },
      serviceAccount: 'default',
      ips: ['192.168.0.11'],
      namedPorts: [],
      hostNetwork: false,
    });
    let d = engine.flush();
    assert.deepEqual(
      d.ipcache.upsert.filter((e) => e.prefix.startsWith('192.168')),
      [{ prefix: '192.168.0.11/32', identity: Reserved.RemoteNode }],
    );
    assert.equal(engine.compiled.ipcache.get('fd00:192::11/128'), Reserved.RemoteNode);
    const ev2 = new (ev.constructor as new (s: typeof engine.compiled) => typeof ev)(
      engine.compiled,
    );
    assert.equal(verdict(ev2, '192.168.0.11', '10.0.1.1', 10250), 'allow');
    assert.equal(verdict(ev2, '192.168.0.11', '10.0.1.1', 80), 'deny');
    engine.upsertNode('n1', ['fd00:192::11']);
    d = engine.flush();
    assert.notEqual(engine.compiled.ipcache.get('192.168.0.11/32'), Reserved.RemoteNode);
    assert.deepEqual(d.ipcache.remove, []);
    engine.deleteNode('n1');
    d = engine.flush();
    assert.deepEqual(d.ipcache.remove, ['fd00:192::11/128']);
  });

  it('CIDR sets with except, for external and pod addresses, IPv4 and IPv6', () => {
    const { ev } = compile([
      ...world,
      web,
      api,
      pg,
      pnp('app', 'c', {
        endpointSelector: { matchLabels: { app: 'api' } },
        egress: [
          {
            to: [
              { cidrSet: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } },
              { cidr: '10.0.2.0/24' },
              { cidr: 'fd00::20/124' },
            ],
          },
        ],
      }),
    ]);
    assert.equal(verdict(ev, '10.0.1.3', '203.0.113.9', 443), 'allow');
    assert.equal(verdict(ev, '10.0.1.3', '203.0.113.200', 443), 'deny');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.2.1', 5432), 'allow', 'pod inside the CIDR');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.1', 8080), 'deny', 'pod outside the CIDR');
    assert.equal(verdict(ev, 'fd00::3', 'fd00::21', 5432), 'allow');
    assert.equal(verdict(ev, 'fd00::3', 'fd00::99', 5432), 'deny');
  });

  it('port ranges, protocols, ANY and ICMP types', () => {
    const { ev } = compile([
      ...world,
      web,
      api,
      pnp('app', 'p', {
        endpointSelector: { matchLabels: { app: 'api' } },
        ingress: [
          {
            ports: [
              { port: 8000, endPort: 8100 },
              { protocol: 'UDP', port: 53 },
              { protocol: 'ICMP', icmpType: 8 },
              { protocol: 'ANY', port: 7 },
            ],
          },
        ],
        ingressDeny: [{ ports: [{ port: 8050, endPort: 8060 }] }],
      }),
    ]);
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 8000), 'allow');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 8100), 'allow');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 8101), 'deny');
    assert.equal(
      verdict(ev, '10.0.1.1', '10.0.1.3', 8055),
      'deny',
      'deny range inside the allow range',
    );
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 8000, 'UDP'), 'deny');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 53, 'UDP'), 'allow');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 8, 'ICMP'), 'allow');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 0, 'ICMP'), 'deny');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 7, 'SCTP'), 'allow');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 7, 'UDP'), 'allow');
  });

  it('L7 rules become redirect entries carrying the HTTP rules', () => {
    const { engine, ev } = compile([
      ...world,
      web,
      api,
      pnp('app', 'l7', {
        endpointSelector: { matchLabels: { app: 'api' } },
        ingress: [{ ports: [{ port: 80 }], http: [{ method: 'GET', path: '/v1/.*' }] }],
      }),
    ]);
    const v = ev.evaluate({ src: '10.0.1.1', dst: '10.0.1.3', protocol: 'TCP', dstPort: 80 });
    assert.equal(v.verdict, 'allow');
    assert.ok(v.redirect);
    const entries = [...policyEntries(engine.compiled)].filter(
      (e) => e.value.verdict === 'redirect',
    );
    assert.equal(entries.length, 1);
    assert.deepEqual(entries[0]!.value.l7, [{ method: 'GET', path: '/v1/.*' }]);
    assert.equal(verdict(ev, '10.0.1.1', '10.0.1.3', 81), 'deny');
  });

  it('pods with the same identity share one compiled policy', () => {
    const pol = np('app', 'p', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] },
      ],
    });
    const one = compile([...world, web, api, pol]).engine.compiled;
    const two = compile([...world, web, web2, api, pol]).engine.compiled;
    assert.equal(two.endpoints.get('app/web')!.identity, two.endpoints.get('app/web2')!.identity);
    assert.equal(policyEntryCount(two), policyEntryCount(one));
  });

  it('named ports resolve on the destination pod, per identity', () => {
    const other = pod('app', 'web3', { app: 'web' }, '10.0.1.4', [
      { name: 'http', containerPort: 9090 },
    ]);
    const { ev } = compile([
      ...world,
      web,
      other,
      api,
      np('app', 'p', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ ports: [{ port: 'http' }] }],
      }),
    ]);
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.1', 8080), 'allow');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.1', 9090), 'deny');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.4', 9090), 'allow');
    assert.equal(verdict(ev, '10.0.1.3', '10.0.1.4', 8080), 'deny');
  });

  it('cluster-wide policies select across namespaces', () => {
    const { ev } = compile([
      ...world,
      web,
      api,
      pg,
      {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'PalisadeClusterNetworkPolicy',
        metadata: { name: 'only-team-a-to-db' },
        spec: {
          namespaceSelector: { matchLabels: { team: 'b' } },
          endpointSelector: {},
          ingress: [{ from: [{ endpointSelector: { matchLabels: { app: 'api' } } }] }],
        },
      },
    ]);
    assert.equal(verdict(ev, '10.0.1.3', '10.0.2.1', 5432), 'allow');
    assert.equal(verdict(ev, '10.0.1.1', '10.0.2.1', 5432), 'deny');
    assert.equal(
      verdict(ev, '10.0.2.1', '10.0.1.1', 8080),
      'allow',
      'namespace app is not selected',
    );
  });

  it('warns about selectors on labels excluded from identities', () => {
    const { engine } = compile([
      ...world,
      web,
      np('app', 'p', { podSelector: { matchLabels: { 'pod-template-hash': 'abc' } } }),
    ]);
    assert.equal(engine.policyWarnings('NetworkPolicy/app/p').length, 1);
  });
});
