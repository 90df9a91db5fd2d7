/**
 * Property tests of the incremental path: after any random sequence of changes, the
 * state the engine reached (and a replica built only from its deltas) equals a compile
 * from scratch of the final objects, up to identity numbering.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InMemoryAllocator } from '../identity/allocator.js';
import { parseObject } from '../objects/parseObject.js';
import { compile, feed, np, ns, pnp, pod } from '../testing/compile.js';
import { applyDelta, canonicalState, deltaSize, emptyState } from './compiledState.js';
import { PolicyEngine } from './engine.js';

const sel = fc.oneof(
  fc.constant({}),
  fc.constantFrom(
    { matchLabels: { app: 'a' } },
    { matchLabels: { app: 'b' } },
    { matchLabels: { tier: 'fe' } },
  ),
  fc.constant({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['be'] }] }),
  fc.constant({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }),
);
const nsSel = fc.constantFrom(
  {},
  { matchLabels: { env: 'prod' } },
  { matchLabels: { 'kubernetes.io/metadata.name': 'y' } },
);
const npPeer = fc.oneof(
  sel.map((podSelector) => ({ podSelector })),
  nsSel.map((namespaceSelector) => ({ namespaceSelector })),
  fc
    .tuple(sel, nsSel)
    .map(([podSelector, namespaceSelector]) => ({ podSelector, namespaceSelector })),
  fc.constantFrom(
    { ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.2/32'] } },
    { ipBlock: { cidr: '10.0.0.4/30' } },
    { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/29'] } },
    { ipBlock: { cidr: 'fd00::/64' } },
  ),
);
const npPorts = fc.constantFrom(
  undefined,
  [{ port: 80 }],
  [{ port: 'http' }],
  [{ protocol: 'TCP', port: 79, endPort: 81 }],
  [{ protocol: 'UDP', port: 53 }, { port: 'http' }],
);
const npRule = (dir: 'from' | 'to') =>
  fc
    .record({
      peers: fc.option(fc.array(npPeer, { maxLength: 2 }), { nil: undefined }),
      ports: npPorts,
    })
    .map((r) => ({
      ...(r.peers ? { [dir]: r.peers } : {}),
      ...(r.ports ? { ports: r.ports } : {}),
    }));
const npSpec = fc.record({
  podSelector: sel,
  ingress: fc.option(fc.array(npRule('from'), { maxLength: 2 }), { nil: undefined }),
  egress: fc.option(fc.array(npRule('to'), { maxLength: 2 }), { nil: undefined }),
  policyTypes: fc.constantFrom(undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']),
});
const pnpPeer = fc.oneof(
  sel.map((endpointSelector) => ({ endpointSelector })),
  nsSel.map((namespaceSelector) => ({ namespaceSelector })),
  fc.constantFrom(
    { cidr: '10.0.0.0/30' },
    { cidrSet: { cidr: '10.0.0.0/24', except: ['10.0.0.4/31'] } },
    { entity: 'world' },
    { entity: 'cluster' },
    { entity: 'all' },
  ),
);
const pnpPorts = fc.constantFrom(
  undefined,
  [{ port: 80 }],
  [{ port: 'http' }],
  [{ port: 1, endPort: 100, protocol: 'ANY' }],
  [{ protocol: 'ICMP', icmpType: 8 }],
);
const pnpRule = (dir: 'from' | 'to') =>
  fc
    .record({
      peers: fc.option(fc.array(pnpPeer, { maxLength: 2 }), { nil: undefined }),
      ports: pnpPorts,
    })
    .map((r) => ({
      ...(r.peers ? { [dir]: r.peers } : {}),
      ...(r.ports ? { ports: r.ports } : {}),
    }));
const pnpSpec = fc
  .record({
    endpointSelector: sel,
    ingress: fc.option(fc.array(pnpRule('from'), { maxLength: 2 }), { nil: undefined }),
    egressDeny: fc.option(fc.array(pnpRule('to'), { maxLength: 1 }), { nil: undefined }),
    ingressDeny: fc.option(fc.array(pnpRule('from'), { maxLength: 1 }), { nil: undefined }),
    l7: fc.boolean(),
  })
  .map(({ l7, ...s }) => {
    const spec: Record<string, unknown> = Object.fromEntries(
      Object.entries(s).filter(([, v]) => v !== undefined),
    );
    if (l7)
      spec['egress'] = [{ ports: [{ port: 80 }], http: [{ method: 'GET', path: '/api/.*' }] }];
    return spec;
  });

const podNames = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
const op = fc.oneof(
  fc.record({
    t: fc.constant('ns' as const),
    name: fc.constantFrom('x', 'y'),
    env: fc.constantFrom(undefined, 'prod', 'dev'),
  }),
  fc.record({ t: fc.constant('delns' as const), name: fc.constantFrom('x', 'y') }),
  fc.record({
    t: fc.constant('pod' as const),
    i: fc.integer({ min: 0, max: 5 }),
    ns: fc.constantFrom('x', 'y'),
    app: fc.constantFrom(undefined, 'a', 'b'),
    tier: fc.constantFrom(undefined, 'fe', 'be'),
    httpPort: fc.constantFrom(80, 8080),
    v6: fc.boolean(),
    ipShift: fc.constantFrom(0, 8),
  }),
  fc.record({
    t: fc.constant('delpod' as const),
    i: fc.integer({ min: 0, max: 5 }),
    ns: fc.constantFrom('x', 'y'),
  }),
  fc.record({
    t: fc.constant('np' as const),
    name: fc.constantFrom('n0', 'n1'),
    ns: fc.constantFrom('x', 'y'),
    spec: npSpec,
  }),
  fc.record({
    t: fc.constant('pnp' as const),
    name: fc.constantFrom('c0', 'c1'),
    ns: fc.constantFrom('x', 'y'),
    spec: pnpSpec,
  }),
  fc.record({
    t: fc.constant('delpol' as const),
    key: fc.constantFrom(
      'NetworkPolicy/x/n0',
      'NetworkPolicy/y/n1',
      'PalisadeNetworkPolicy/x/c0',
      'PalisadeNetworkPolicy/y/c1',
    ),
  }),
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Runs ops on an incremental engine, mirroring the final object set in `objects`. */
function run(ops: Op[]): {
  engine: PolicyEngine;
  objects: Map<string, unknown>;
  replica: ReturnType<typeof emptyState>;
} {
  const engine = new PolicyEngine({ numbering: new InMemoryAllocator() });
  const objects = new Map<string, unknown>();
  const replica = emptyState();
  for (const o of ops) {
    switch (o.t) {
      case 'ns': {
        const obj = ns(o.name, o.env ? { env: o.env } : {});
        objects.set(`Namespace/${o.name}`, obj);
        feed(engine, [obj]);
        break;
      }
      case 'delns':
        objects.delete(`Namespace/${o.name}`);
        engine.deleteNamespace(o.name);
        break;
      case 'pod': {
        const name = podNames[o.i] as string;
        const labels: Record<string, string> = {};
        if (o.app) labels['app'] = o.app;
        if (o.tier) labels['tier'] = o.tier;
        const ip = `10.0.0.${o.i + 1 + o.ipShift}${o.v6 ? `,fd00::${o.i + 1}` : ''}`;
        const obj = pod(o.ns, name, labels, ip, [{ name: 'http', containerPort: o.httpPort }]);
        // A pod name is unique per namespace; the same name in the other namespace is another pod.
        objects.set(`Pod/${o.ns}/${name}`, obj);
        feed(engine, [obj]);
        break;
      }
      case 'delpod':
        objects.delete(`Pod/${o.ns}/${podNames[o.i]}`);
        engine.deletePod(o.ns, podNames[o.i] as string);
        break;
      case 'np':
      case 'pnp': {
        const obj = o.t === 'np' ? np(o.ns, o.name, o.spec) : pnp(o.ns, o.name, o.spec);
        const p = parseObject(obj);
        if (p.kind !== 'Policy') throw new Error('not a policy');
        objects.set(p.policy.key, obj);
        engine.upsertPolicy(p.policy);
        break;
      }
      case 'delpol':
        objects.delete(o.key);
        engine.deletePolicy(o.key);
        break;
    }
    applyDelta(replica, engine.flush());
  }
  return { engine, objects, replica };
}

describe('incremental compilation', () => {
  it('equals a compile from scratch after any sequence of changes (and so does the replica)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (ops) => {
        const { engine, objects, replica } = run(ops);
        const scratch = compile(
          [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, o]) => o),
        ).engine;
        const inc = canonicalState(engine.compiled);
        assert.equal(inc, canonicalState(scratch.compiled));
        assert.equal(canonicalState(replica), inc);
      }),
      { numRuns: Number(process.env['PALISADE_PROPERTY_RUNS'] ?? 1000) },
    );
  });

  it('does not depend on the order objects arrive in', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 20 }), (ops) => {
        const { objects } = run(ops);
        const list = [...objects.values()];
        const a = compile(list).engine;
        const b = compile([...list].reverse()).engine;
        assert.equal(canonicalState(a.compiled), canonicalState(b.compiled));
      }),
      { numRuns: 100 },
    );
  });

  it('emits nothing for a change that changes nothing', () => {
    const objs = [
      ns('x'),
      pod('x', 'a', { app: 'a' }, '10.0.0.1'),
      np('x', 'p', {
        podSelector: {},
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }] }],
      }),
    ];
    const { engine } = compile(objs);
    feed(engine, objs);
    assert.equal(deltaSize(engine.flush()), 0);
  });

  it('a new pod in an unrelated namespace touches no policy entry', () => {
    const objs = [
      ns('x'),
      ns('y'),
      pod('x', 'a', { app: 'a' }, '10.0.0.1'),
      pod('x', 'b', { app: 'b' }, '10.0.0.2'),
      np('x', 'p', {
        podSelector: {},
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }] }],
      }),
    ];
    const { engine } = compile(objs);
    feed(engine, [pod('y', 'c', { app: 'a' }, '10.0.0.3')]);
    const d = engine.flush();
    assert.equal(d.policy.upsert.length + d.policy.remove.length, 0);
    assert.equal(d.endpoints.upsert.length, 1);
    assert.equal(d.ipcache.upsert.length, 1);
  });

  it('one relabelled pod changes only the entries of its old and new identities', () => {
    const objs = [
      ns('x'),
      pod('x', 'a', { app: 'a' }, '10.0.0.1'),
      pod('x', 'b', { app: 'b' }, '10.0.0.2'),
      pod('x', 'c', { app: 'c' }, '10.0.0.3'),
      np('x', 'p', {
        podSelector: { matchLabels: { app: 'b' } },
        ingress: [
          { from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] },
        ],
      }),
    ];
    const { engine } = compile(objs);
    const before = engine.compiled.endpoints.get('x/c')!.identity;
    feed(engine, [pod('x', 'c', { app: 'a' }, '10.0.0.3')]);
    const d = engine.flush();
    // x/c is now also a source allowed into x/b: exactly one entry appears (x/b ← new identity of x/c? no: same identity as x/a).
    assert.equal(d.identities.remove.length, 1);
    assert.deepEqual(d.identities.remove, [before]);
    assert.equal(
      d.policy.upsert.length + d.policy.remove.length,
      0,
      'x/c joined an existing identity: no policy entry changes',
    );
    assert.equal(d.ipcache.upsert.length, 1);
  });
});
