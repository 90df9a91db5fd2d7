/**
 * The distributor against simulated shims: after any random sequence of cluster changes
 * (pods created, relabelled, moved and deleted; policies with selectors, CIDRs with
 * except, the world entity and deny rules), every node's state — rebuilt only from the
 * frames it received — decides every flow of its own endpoints exactly as the full
 * compiled state does, and holds exactly its own endpoints. Also: frames only go to the
 * nodes a change concerns, pieces are shared, and slow streams are moved to resync.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeOperatorMessage, fromWireChange } from '@palisade/api';
import {
  applyDelta,
  emptyState,
  Evaluator,
  parseObject,
  PolicyEngine,
  PROTOCOL_NUMBER,
  type CompiledState,
  type PodInput,
} from '@palisade/core';
import { Distributor, type NodeSession } from './distributor.js';

/** A shim reduced to its state machine: applies frames, acks, asks for resyncs. */
class FakeShim {
  state: CompiledState = emptyState();
  epoch = '';
  revision = 0;
  frames = 0;
  bytes = 0;
  blocked = false;
  private staging: CompiledState | undefined;
  private drain: (() => void) | undefined;
  readonly held: Buffer[] = [];
  readonly session: NodeSession;
  detach: () => void = () => undefined;

  constructor(
    readonly node: string,
    private readonly d: Distributor,
  ) {
    this.session = {
      write: (frame) => {
        if (this.blocked) {
          this.held.push(frame);
          return false;
        }
        this.receive(frame);
        return true;
      },
      onDrain: (cb) => {
        this.drain = cb;
      },
      close: () => {
        /* the test reconnects explicitly */
      },
    };
  }

  connect(): void {
    this.detach = this.d.attach(
      this.node,
      { epoch: this.epoch, revision: this.revision },
      this.session,
    );
  }

  unblock(): void {
    this.blocked = false;
    for (const f of this.held.splice(0)) this.receive(f);
    const cb = this.drain;
    this.drain = undefined;
    cb?.();
  }

  private receive(frame: Buffer): void {
    this.frames++;
    this.bytes += frame.length;
    const m = decodeOperatorMessage(frame);
    switch (m.body) {
      case 'snapshot': {
        const c = m.snapshot as NonNullable<typeof m.snapshot>;
        if (c.index === 0) this.staging = emptyState();
        applyDelta(this.staging as CompiledState, fromWireChange(c.state));
        return;
      }
      case 'synced': {
        const s = m.synced as NonNullable<typeof m.synced>;
        this.state = this.staging as CompiledState;
        this.staging = undefined;
        this.epoch = s.epoch;
        this.revision = s.revision;
        this.d.ack(this.node, this.session, s.revision);
        return;
      }
      case 'delta': {
        const x = m.delta as NonNullable<typeof m.delta>;
        assert.equal(x.epoch, this.epoch, 'delta of another epoch');
        assert.equal(x.previousRevision, this.revision, `gap on ${this.node}`);
        applyDelta(this.state, fromWireChange(x.change));
        this.revision = x.revision;
        this.d.ack(this.node, this.session, x.revision);
        return;
      }
      case undefined:
        assert.fail('a frame without a body');
    }
  }
}

const NODES = ['n1', 'n2', 'n3'];
const EXTERNAL = ['8.8.8.8', '10.0.1.5', '10.0.0.77', '192.168.1.1'];
const PORTS: [keyof typeof PROTOCOL_NUMBER, number][] = [
  ['TCP', 80],
  ['TCP', 443],
  ['UDP', 53],
];

function checkNodes(engine: PolicyEngine, shims: FakeShim[]): void {
  const full = engine.compiled;
  const fullEv = new Evaluator(full);
  const remotes = [...full.endpoints.values()].flatMap((e) => e.ips).concat(EXTERNAL);
  for (const shim of shims) {
    const mine = [...full.endpoints.values()].filter((e) => e.node === shim.node);
    assert.deepEqual(
      [...shim.state.endpoints.keys()].sort(),
      mine.map((e) => e.pod).sort(),
      `endpoints of ${shim.node}`,
    );
    const nodeEv = new Evaluator(shim.state);
    for (const ep of mine) {
      const local = shim.state.endpoints.get(ep.pod);
      assert.ok(local);
      for (const dir of ['ingress', 'egress'] as const)
        for (const ip of remotes)
          for (const [proto, port] of PORTS) {
            const want = fullEv.decide(ep, dir, ip, PROTOCOL_NUMBER[proto], port);
            const got = nodeEv.decide(local, dir, ip, PROTOCOL_NUMBER[proto], port);
            assert.equal(
              got.verdict,
              want.verdict,
              `${shim.node} ${ep.pod} ${dir} ${ip} ${proto}/${port}: ${got.reason} vs ${want.reason}`,
            );
            assert.deepEqual(got.value?.rules ?? [], want.value?.rules ?? []);
          }
    }
  }
}

function podInput(i: number, app: string, node: string): PodInput {
  return {
    namespace: i % 2 === 0 ? 'x' : 'y',
    name: `p${i}`,
    labels: { app },
    serviceAccount: 'default',
    ips: [`10.0.${i % 3}.${10 + i}`],
    namedPorts: [],
    hostNetwork: false,
    nodeName: node,
  };
}

const POLICIES: unknown[] = [
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'x', name: 'a-from-b' },
    spec: {
      podSelector: { matchLabels: { app: 'a' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'b' } } }] }],
    },
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'y', name: 'cidr' },
    spec: {
      podSelector: { matchLabels: { app: 'b' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] } }] }],
    },
  },
  {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { namespace: 'x', name: 'world' },
    spec: {
      endpointSelector: { matchLabels: { app: 'c' } },
      egress: [{ to: [{ entity: 'world' }], ports: [{ port: 443, protocol: 'TCP' }] }],
    },
  },
  {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { namespace: 'y', name: 'deny-c' },
    spec: {
      endpointSelector: {},
      ingressDeny: [{ from: [{ endpointSelector: { matchLabels: { app: 'c' } } }] }],
    },
  },
];

type Op =
  | { kind: 'pod'; i: number; app: string; node: string }
  | { kind: 'delPod'; i: number }
  | { kind: 'policy'; p: number }
  | { kind: 'delPolicy'; p: number }
  | { kind: 'reconnect'; node: number; fresh: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('pod' as const),
      i: fc.integer({ min: 0, max: 7 }),
      app: fc.constantFrom('a', 'b', 'c'),
      node: fc.constantFrom(...NODES),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delPod' as const), i: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('policy' as const), p: fc.nat(POLICIES.length - 1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delPolicy' as const),
      p: fc.nat(POLICIES.length - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reconnect' as const),
      node: fc.nat(NODES.length - 1),
      fresh: fc.boolean(),
    }),
  },
);

function policyKeyOf(p: unknown): string {
  const o = parseObject(p);
  assert.equal(o.kind, 'Policy');
  return o.kind === 'Policy' ? o.policy.key : '';
}

describe('distributor', () => {
  it('every node decides its endpoints’ flows exactly as the full state does', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
        const engine = new PolicyEngine();
        const d = new Distributor();
        d.startTerm();
        engine.upsertNamespace({ name: 'x', labels: { env: 'prod' } });
        engine.upsertNamespace({ name: 'y', labels: {} });
        const shims = NODES.map((n) => new FakeShim(n, d));
        for (const s of shims) s.connect();
        d.applyDelta(engine.flush(), engine.compiled);
        d.setReady();
        for (const o of ops) {
          switch (o.kind) {
            case 'pod':
              engine.upsertPod(podInput(o.i, o.app, o.node));
              break;
            case 'delPod':
              engine.deletePod(o.i % 2 === 0 ? 'x' : 'y', `p${o.i}`);
              break;
            case 'policy': {
              const parsed = parseObject(POLICIES[o.p]);
              if (parsed.kind === 'Policy') engine.upsertPolicy(parsed.policy);
              break;
            }
            case 'delPolicy':
              engine.deletePolicy(policyKeyOf(POLICIES[o.p]));
              break;
            case 'reconnect': {
              const s = shims[o.node] as FakeShim;
              s.detach();
              if (o.fresh) {
                s.epoch = '';
                s.revision = 0;
              }
              // Changes while it is away.
              d.applyDelta(engine.flush(), engine.compiled);
              s.connect();
              break;
            }
          }
          d.applyDelta(engine.flush(), engine.compiled);
          checkNodes(engine, shims);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('sends a policy change only to the nodes whose pods it selects, and encodes it once', () => {
    const engine = new PolicyEngine();
    const d = new Distributor();
    d.startTerm();
    engine.upsertNamespace({ name: 'x', labels: {} });
    engine.upsertNamespace({ name: 'y', labels: {} });
    const nodes = Array.from({ length: 20 }, (_, i) => `node-${i}`);
    const shims = nodes.map((n) => new FakeShim(n, d));
    for (const s of shims) s.connect();
    for (let i = 0; i < 40; i++)
      engine.upsertPod({
        ...podInput(i, i < 2 ? 'a' : 'z', nodes[i % 20] as string),
        namespace: 'x',
        ips: [`10.1.${i >> 8}.${i & 255}`],
      });
    d.applyDelta(engine.flush(), engine.compiled);
    d.setReady();
    const before = shims.map((s) => s.frames);
    const parsed = parseObject(POLICIES[0]);
    assert.ok(parsed.kind === 'Policy');
    engine.upsertPolicy(parsed.policy);
    d.applyDelta(engine.flush(), engine.compiled, [{ key: parsed.policy.key, seenAt: 0 }]);
    const got = shims.filter((s, i) => s.frames > (before[i] as number)).map((s) => s.node);
    assert.deepEqual(got, ['node-0', 'node-1']);
    checkNodes(engine, shims);
    const r = d.realization((k) => engine.policySubjects(k));
    const mine = r.find((x) => x.policy === parsed.policy.key);
    assert.deepEqual(mine && { realized: mine.nodesRealized, desired: mine.nodesDesired }, {
      realized: 2,
      desired: 2,
    });
  });

  it('moves a stream that stops reading to resync without holding the others', () => {
    const engine = new PolicyEngine();
    const d = new Distributor({ maxQueuedBytes: 500 });
    d.startTerm();
    engine.upsertNamespace({ name: 'x', labels: {} });
    const shims = ['fast', 'slow'].map((n) => new FakeShim(n, d));
    for (const s of shims) s.connect();
    const parsed = parseObject(POLICIES[0]);
    assert.ok(parsed.kind === 'Policy');
    engine.upsertPolicy(parsed.policy);
    d.applyDelta(engine.flush(), engine.compiled);
    d.setReady();
    const slow = shims[1] as FakeShim;
    slow.blocked = true;
    for (let i = 0; i < 60; i++) {
      engine.upsertPod({
        ...podInput(i, i % 2 ? 'a' : 'b', i % 2 ? 'fast' : 'slow'),
        namespace: 'x',
        ips: [`10.2.0.${i}`],
      });
      d.applyDelta(engine.flush(), engine.compiled);
    }
    // The fast node is current while the slow one has not read anything.
    const status = new Map(d.nodes().map((n) => [n.node, n]));
    assert.equal(status.get('fast')?.acked, d.revision);
    assert.equal(status.get('slow')?.synced, false);
    assert.ok(slow.held.length < 60, 'the slow stream’s queue was dropped');
    slow.unblock();
    checkNodes(engine, shims);
    assert.equal(new Map(d.nodes().map((n) => [n.node, n])).get('slow')?.acked, d.revision);
  });
});
