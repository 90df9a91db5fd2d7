/**
 * Failures of the moving parts, on a real lab (kube-apiserver, the operator process, two
 * nodes with shims enforcing in eBPF, pods realised by the stand-in kubelet).
 *
 * Six pods, three per node, and NetworkPolicies that allow some flows and deny others, both
 * between nodes and on one node. In each case UDP streams run back to back from before the
 * failure until the cluster has recovered and enforces a change (thousands of messages per
 * flow): every allowed flow must lose none, every denied flow must get none through. Real
 * probes of every pair check the verdicts during the failure (unchanged) and after it (the
 * change, reached by polling). Proved:
 *
 * 1. the operator killed (SIGKILL): the kernels keep enforcing; a policy changed while it is
 *    down is enforced once it is back;
 * 2. a node's shim killed (SIGKILL) and restarted while streams cross that node: no wrong
 *    verdict; the new shim syncs and enforces a policy change;
 * 3. the kube-apiserver restarted: the kubelet and the operator reconnect by themselves, and
 *    a policy and a pod created afterwards are enforced;
 * 4. (a second, one-node lab with identities in Redis) Redis killed: enforcement holds, and a
 *    pod and a policy created while it is down are enforced once it is back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Resources, type KubeObject } from '@palisade/operator';
import { defaultAgentPath, privilegedSkipReason, ProbeAgent } from '@palisade/shim/testing';
import { Lab, until } from '../lab/lab.js';
import type { LabProbePort } from '../lab/prober.js';
import { describeMismatches, probeUntil, type Expect } from '../lab/reachability.js';

const skip = privilegedSkipReason();
const NS = 'failures';
const PORTS: readonly LabProbePort[] = [
  { port: 80, protocol: 'TCP' },
  { port: 5353, protocol: 'UDP' },
];
/** Messages per stream batch (one every 2 ms: 2 s). */
const BATCH = 1000;

/** Who may reach a destination app: source app → protocols, or `undefined` (not isolated). */
type Ingress = Readonly<Record<string, readonly ('TCP' | 'UDP')[]>>;
/** The policies in force, as the expected verdicts see them: destination app → its ingress. */
type Model = Record<string, Ingress | undefined>;

/** A pod of the suite: its name, its app label, the node it runs on. */
interface PodSpec {
  readonly name: string;
  readonly app: string;
  readonly node: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The Pod object for `p` (pinned to its node, serving TCP 80 and UDP 5353). */
function podObject(p: PodSpec, namespace = NS): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name: p.name, labels: { app: p.app } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': p.node },
      containers: [
        {
          name: 'echo',
          image: 'palisade/echo',
          ports: [
            { name: 'http', containerPort: 80, protocol: 'TCP' },
            { name: 'dns', containerPort: 5353, protocol: 'UDP' },
          ],
        },
      ],
    },
  };
}

/** A NetworkPolicy isolating ingress of `app`, allowing `ingress` (source app → protocols). */
function policyObject(name: string, app: string, ingress: Ingress, namespace = NS): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace, name },
    spec: {
      podSelector: { matchLabels: { app } },
      policyTypes: ['Ingress'],
      ingress: Object.entries(ingress).map(([from, protocols]) => ({
        from: [{ podSelector: { matchLabels: { app: from } } }],
        ports: protocols.map((protocol) => ({
          protocol,
          port: protocol === 'TCP' ? 80 : 5353,
        })),
      })),
    },
  };
}

/** The expected verdict of every flow between `pods` under `model`. */
function expectation(pods: readonly PodSpec[], model: Model, namespace = NS): Expect {
  const app = new Map(pods.map((p) => [`${namespace}/${p.name}`, p.app]));
  return (r) => {
    const src = app.get(r.from);
    const dst = app.get(r.to);
    if (src === undefined || dst === undefined) return undefined;
    const ingress = model[dst];
    if (!ingress) return 'allow';
    return ingress[src]?.includes(r.protocol as 'TCP' | 'UDP') ? 'allow' : 'deny';
  };
}

/** Applies `obj` with kubectl (asserting success). */
async function apply(lab: Lab, obj: KubeObject): Promise<void> {
  const r = await lab.kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  assert.equal(r.code, 0, `kubectl apply ${obj.kind} ${obj.metadata.name}: ${r.stderr}`);
}

/** Waits until the kubelet runs every pod of `pods` and their objects say Running. */
async function podsRunning(
  lab: Lab,
  pods: readonly PodSpec[],
  ms: number,
  namespace = NS,
): Promise<void> {
  await until(
    `pods ${pods.map((p) => p.name).join(', ')} running`,
    async () => {
      for (const p of pods) {
        const run = lab.kubelet.pod(`${namespace}/${p.name}`);
        if (!run || run.node !== p.node) return false;
        const o = await lab.client.get(Resources.pods, p.name, namespace);
        if ((o?.['status'] as { phase?: string } | undefined)?.phase !== 'Running') return false;
      }
      return true;
    },
    ms,
  );
}

/** Probes every pair until the verdicts are those of `model` (asserting they get there). */
async function converge(
  t: TestContext,
  lab: Lab,
  pods: readonly PodSpec[],
  model: Model,
  what: string,
  deadlineMs = 20_000,
  namespace = NS,
): Promise<void> {
  const expect = expectation(pods, model, namespace);
  const r = await probeUntil(lab, PORTS, expect, { deadlineMs, timeoutMs: 500 });
  assert.equal(
    r.mismatches.length,
    0,
    `${what}: wrong verdicts after ${r.elapsedMs} ms:\n${describeMismatches(r.mismatches, expect)}`,
  );
  const allowed = r.results.filter((x) => expect(x) === 'allow').length;
  const denied = r.results.filter((x) => expect(x) === 'deny').length;
  t.diagnostic(
    `${what}: ${allowed} allowed and ${denied} denied flows agree after ${r.elapsedMs} ms (${r.rounds} rounds)`,
  );
}

/** Probes every pair once: the verdicts must already be those of `model` (no waiting). */
async function holds(
  lab: Lab,
  pods: readonly PodSpec[],
  model: Model,
  what: string,
  namespace = NS,
): Promise<void> {
  const expect = expectation(pods, model, namespace);
  // One round (deadline 0); a single lost probe of an allowed flow is retried once.
  const r = await probeUntil(lab, PORTS, expect, { deadlineMs: 0, timeoutMs: 500 });
  const again =
    r.mismatches.length === 0
      ? r
      : await probeUntil(lab, PORTS, expect, { deadlineMs: 0, timeoutMs: 1000 });
  const wrongDeny = again.mismatches.filter((m) => m.verdict === 'deny');
  const wrongAllow = r.mismatches.filter((m) => m.verdict === 'allow');
  assert.equal(
    wrongAllow.length + wrongDeny.length,
    0,
    `${what}: wrong verdicts:\n${describeMismatches([...wrongAllow, ...wrongDeny], expect)}`,
  );
}

/** A stream from `from` to `to` (UDP 5353) and what it must see. */
interface Flow {
  readonly from: string;
  readonly to: string;
  readonly verdict: 'allow' | 'deny';
}

/** What the streams of one flow added up to. */
interface FlowTotals {
  batches: number;
  sent: number;
  received: number;
  /** Sequence numbers (`batch:seq`) of allowed messages that were lost, the first few. */
  readonly lost: string[];
  readonly errors: string[];
}

/**
 * Streams every flow (UDP, one datagram every 2 ms) from before `during` starts until it
 * ends, as back-to-back batches of {@link BATCH} messages: each batch is a new socket, so
 * a new flow for the datapath, while the messages within a batch are one flow. Asserts that
 * an allowed flow lost nothing and a denied flow got nothing through; returns the totals.
 */
async function streamsThrough(
  t: TestContext,
  lab: Lab,
  flows: readonly Flow[],
  during: () => Promise<void>,
  namespace = NS,
): Promise<FlowTotals[]> {
  // One agent per flow: an agent runs one command at a time.
  const agents = await Promise.all(
    flows.map((f) => {
      const src = lab.kubelet.pod(`${namespace}/${f.from}`);
      assert.ok(src, `pod ${f.from} is not running`);
      return ProbeAgent.start(src.netns, defaultAgentPath());
    }),
  );
  const totals: FlowTotals[] = flows.map(() => ({
    batches: 0,
    sent: 0,
    received: 0,
    lost: [],
    errors: [],
  }));
  let done = false;
  const loops = flows.map(async (f, i) => {
    const dst = lab.kubelet.pod(`${namespace}/${f.to}`);
    assert.ok(dst, `pod ${f.to} is not running`);
    const agent = agents[i] as ProbeAgent;
    const tot = totals[i] as FlowTotals;
    do {
      const r = await agent.stream('udp', dst.ip, 5353, {
        count: BATCH,
        intervalUs: 2000,
        // An echo comes back within milliseconds; a denied batch need not wait long.
        timeoutMs: f.verdict === 'allow' ? 1000 : 300,
      });
      if (f.verdict === 'allow' && tot.lost.length < 10)
        tot.lost.push(...r.lost.slice(0, 10).map((q) => `${tot.batches}:${q}`));
      if (r.error !== undefined && tot.errors.length < 5) tot.errors.push(r.error);
      tot.batches++;
      tot.sent += r.sent;
      tot.received += r.received;
    } while (!done);
  });
  try {
    await sleep(300);
    await during();
  } finally {
    done = true;
    await Promise.allSettled(loops);
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  }
  await Promise.all(loops); // a failed stream command fails the test
  const lines = flows.map((f, i) => {
    const r = totals[i] as FlowTotals;
    return `${f.from}→${f.to} ${f.verdict}: ${r.received}/${r.sent} in ${r.batches} batches${r.lost.length ? `, lost ${r.lost.join(' ')}` : ''}${r.errors.length ? `, errors ${r.errors.join(' ')}` : ''}`;
  });
  t.diagnostic(`streams: ${lines.join('; ')}`);
  flows.forEach((f, i) => {
    const r = totals[i] as FlowTotals;
    assert.ok(r.sent >= BATCH, `${lines[i] ?? ''}: not even one batch was sent`);
    if (f.verdict === 'allow')
      assert.equal(r.received, r.sent, `allowed stream lost messages: ${lines[i] ?? ''}`);
    else assert.equal(r.received, 0, `denied stream got messages through: ${lines[i] ?? ''}`);
  });
  return totals;
}

/**
 * How long a shim may take to reconnect once the operator serves again. Its own reconnect
 * backoff is capped at 30 s with full jitter, and the grpc-js channel it reuses has a
 * backoff of its own (1 s × 1.6ⁿ, up to 120 s: calls fail at once with the last connect
 * error until it expires), so a reconnect lags the outage by a multiple of its length;
 * the outages here last 3–16 s.
 */
const RESYNC_MS = 45_000;

/**
 * Waits until every shim of the lab is connected and synced (with an epoch other than
 * `notEpoch`, when given); returns how long each took, by node name.
 */
async function shimsSynced(lab: Lab, notEpoch?: string): Promise<string> {
  const t = Date.now();
  const took = await Promise.all(
    lab.nodes.map(async (n) => {
      await until(
        `the shim of ${n.name} synced`,
        async () => {
          const d = (await lab.shimStatus(n))?.distribution;
          return (
            d?.synced === true && d.connected && (notEpoch === undefined || d.epoch !== notEpoch)
          );
        },
        RESYNC_MS,
      );
      return `${n.name} ${Date.now() - t} ms`;
    }),
  );
  return took.join(', ');
}

/** Brings a lab up with `pods` running in `namespace` and `model` applied as NetworkPolicies. */
async function labWith(
  o: { nodes: number; identityStore?: 'crd' | 'redis'; log?: (line: string) => void },
  namespace: string,
  pods: readonly PodSpec[],
  model: Model,
): Promise<Lab> {
  const lab = await Lab.up({ dir: mkdtempSync('/dev/shm/palisade-lab-'), ...o });
  try {
    const r = await lab.kubectl(['create', 'namespace', namespace]);
    assert.equal(r.code, 0, r.stderr);
    for (const [app, ingress] of Object.entries(model))
      if (ingress) await apply(lab, policyObject(`${app}-ingress`, app, ingress, namespace));
    for (const p of pods) await apply(lab, podObject(p, namespace));
    await podsRunning(lab, pods, 30_000, namespace);
    return lab;
  } catch (err) {
    await lab.down();
    throw err;
  }
}

/** Takes the lab down and asserts it left nothing behind. */
async function downClean(lab: Lab | undefined, what: string, t0: number): Promise<void> {
  if (!lab) return;
  const left = await lab.down();
  // For the report: the whole suite, lab up and down included.
  process.stderr.write(`# ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  assert.deepEqual(
    left,
    { namespaces: [], links: [], pins: false, processes: [] },
    'the lab left nothing behind',
  );
}

describe('failures: the operator, a shim and the apiserver (2-node lab)', { skip }, () => {
  let lab: Lab | undefined;
  let t0 = 0;
  const labLog: string[] = [];
  const PODS: PodSpec[] = [
    { name: 'web', app: 'web', node: 'node-1' },
    { name: 'cli-1', app: 'cli', node: 'node-1' },
    { name: 'other-1', app: 'other', node: 'node-1' },
    { name: 'db', app: 'db', node: 'node-2' },
    { name: 'cli-2', app: 'cli', node: 'node-2' },
    { name: 'other-2', app: 'other', node: 'node-2' },
  ];
  // web: cli on both protocols; db: cli on TCP only, web on UDP only. The changes the tests
  // make keep the verdicts of their UDP streams (those change nothing for UDP to web or db).
  const model: Model = {
    web: { cli: ['TCP', 'UDP'] },
    db: { cli: ['TCP'], web: ['UDP'] },
  };
  const getLab = (): Lab => {
    assert.ok(lab, 'the lab is not up');
    return lab;
  };

  before(async () => {
    t0 = Date.now();
    lab = await labWith({ nodes: 2, log: (l) => labLog.push(l) }, NS, PODS, model);
  });

  after(() => downClean(lab, 'failures suite (2-node lab)', t0));

  it('enforces the policies at the start (baseline)', { timeout: 60_000 }, async (t) => {
    t.diagnostic(labLog.filter((l) => /ready in|synced/.test(l)).join('; '));
    await converge(t, getLab(), PODS, model, 'baseline', 30_000);
  });

  it(
    'keeps enforcing with the operator killed, and enforces a change made meanwhile once it is back',
    { timeout: 120_000 },
    async (t) => {
      const l = getLab();
      const epoch = (await l.shimStatus(l.node('node-1')))?.distribution?.epoch;
      assert.ok(epoch, 'the shims have an epoch');
      await streamsThrough(
        t,
        l,
        [
          { from: 'cli-1', to: 'web', verdict: 'allow' }, // within node-1
          { from: 'cli-2', to: 'web', verdict: 'allow' }, // node-2 → node-1
          { from: 'web', to: 'db', verdict: 'allow' }, // node-1 → node-2
          { from: 'other-2', to: 'db', verdict: 'deny' }, // within node-2
          { from: 'cli-1', to: 'db', verdict: 'deny' }, // node-1 → node-2 (TCP-only rule)
          { from: 'db', to: 'web', verdict: 'deny' }, // node-2 → node-1
        ],
        async () => {
          const tKill = Date.now();
          await l.killOperator();
          assert.equal(await l.operatorReady(), false, 'the operator is down');
          await holds(l, PODS, model, 'with the operator down');
          // Changed while nobody distributes: cli loses TCP to web, other gains it.
          const before = { ...model };
          model.web = { cli: ['UDP'], other: ['TCP'] };
          await apply(l, policyObject('web-ingress', 'web', model.web));
          await sleep(1000);
          await holds(l, PODS, before, 'no change before the operator is back');
          assert.equal(await l.operatorReady(), false, 'the operator is still down');
          const tStart = Date.now();
          await l.startOperator();
          t.diagnostic(
            `operator down ${tStart - tKill} ms; ready ${Date.now() - tStart} ms after its start`,
          );
          t.diagnostic(`shims resynced with the new operator: ${await shimsSynced(l, epoch)}`);
          await converge(t, l, PODS, model, 'the change, after the operator restart');
        },
      );
    },
  );

  it(
    'gives no wrong verdict with a shim killed and restarted under traffic, and the new shim enforces a change',
    { timeout: 90_000 },
    async (t) => {
      const l = getLab();
      const n1 = l.node('node-1');
      await streamsThrough(
        t,
        l,
        [
          { from: 'cli-1', to: 'web', verdict: 'allow' }, // within node-1
          { from: 'web', to: 'cli-1', verdict: 'allow' }, // within node-1
          { from: 'web', to: 'db', verdict: 'allow' }, // out of node-1
          { from: 'other-1', to: 'web', verdict: 'deny' }, // within node-1
          { from: 'other-2', to: 'web', verdict: 'deny' }, // into node-1
          { from: 'other-1', to: 'db', verdict: 'deny' }, // out of node-1
        ],
        async () => {
          await l.stopShim(n1, 'SIGKILL');
          assert.equal(await l.shimStatus(n1), undefined, 'the shim is down');
          await holds(l, PODS, model, 'with the shim of node-1 down');
          const t1 = Date.now();
          await l.startShim(n1);
          t.diagnostic(`the new shim of node-1 synced ${Date.now() - t1} ms after its start`);
          await shimsSynced(l);
          await holds(l, PODS, model, 'after the shim restart');
          // A change for node-1's pods, enforced by the new shim: cli gets TCP to web back,
          // and cli (not isolated so far) is isolated: only web may reach it.
          model.web = { cli: ['TCP', 'UDP'], other: ['TCP'] };
          model.cli = { web: ['TCP', 'UDP'] };
          await apply(l, policyObject('web-ingress', 'web', model.web));
          await apply(l, policyObject('cli-ingress', 'cli', model.cli));
          await converge(t, l, PODS, model, 'a change after the shim restart');
        },
      );
    },
  );

  it(
    'converges after an apiserver restart: the kubelet and operator reconnect, a new pod and policy are enforced',
    { timeout: 150_000 },
    async (t) => {
      const l = getLab();
      const late: PodSpec = { name: 'late', app: 'late', node: 'node-2' };
      await streamsThrough(
        t,
        l,
        [
          { from: 'cli-2', to: 'web', verdict: 'allow' }, // node-2 → node-1
          { from: 'web', to: 'cli-2', verdict: 'allow' }, // node-1 → node-2
          { from: 'cli-1', to: 'web', verdict: 'allow' }, // within node-1
          { from: 'other-2', to: 'cli-1', verdict: 'deny' }, // node-2 → node-1
          { from: 'cli-1', to: 'db', verdict: 'deny' }, // node-1 → node-2
          { from: 'other-2', to: 'db', verdict: 'deny' }, // within node-2
        ],
        async () => {
          const t1 = Date.now();
          await l.cp.restartApiserver(1000);
          const t2 = Date.now();
          t.diagnostic(`apiserver stopped, down 1000 ms and ready again after ${t2 - t1} ms`);
          await holds(l, PODS, model, 'right after the apiserver restart');
          // Created after the restart: only the reconnected kubelet can run the pod, only the
          // reconnected operator can give it an identity and distribute the policies.
          model.late = { other: ['TCP'] };
          model.db = { cli: ['TCP'], web: ['UDP'], late: ['TCP', 'UDP'] };
          await apply(l, podObject(late));
          await apply(l, policyObject('late-ingress', 'late', model.late));
          await apply(l, policyObject('db-ingress', 'db', model.db));
          await podsRunning(l, [late], 30_000);
          t.diagnostic(`the new pod runs ${Date.now() - t2} ms after the apiserver is back`);
          await until('the operator ready again', () => l.operatorReady(), 30_000);
          t.diagnostic(`operator ready ${Date.now() - t2} ms after the apiserver is back`);
          t.diagnostic(`shims synced again: ${await shimsSynced(l)}`);
          await converge(
            t,
            l,
            [...PODS, late],
            model,
            'a pod and policies created after the apiserver restart',
          );
        },
      );
    },
  );
});

describe('failures: Redis, the identity store (1-node lab)', { skip }, () => {
  let lab: Lab | undefined;
  let t0 = 0;
  const NSR = 'failures-redis';
  const PODS: PodSpec[] = [
    { name: 'web', app: 'web', node: 'node-1' },
    { name: 'cli', app: 'cli', node: 'node-1' },
    { name: 'other', app: 'other', node: 'node-1' },
  ];
  const model: Model = { web: { cli: ['TCP', 'UDP'] } };

  before(async () => {
    t0 = Date.now();
    lab = await labWith({ nodes: 1, identityStore: 'redis' }, NSR, PODS, model);
  });

  after(() => downClean(lab, 'redis suite (1-node lab)', t0));

  it(
    'keeps enforcing with Redis killed, and enforces a pod and policy created meanwhile once it is back',
    { timeout: 90_000 },
    async (t) => {
      const l = lab;
      assert.ok(l?.redis, 'the lab has a Redis');
      const redis = l.redis;
      await converge(t, l, PODS, model, 'baseline', 30_000, NSR);
      const late: PodSpec = { name: 'late', app: 'late', node: 'node-1' };
      await streamsThrough(
        t,
        l,
        [
          { from: 'cli', to: 'web', verdict: 'allow' },
          { from: 'web', to: 'other', verdict: 'allow' },
          { from: 'other', to: 'web', verdict: 'deny' },
        ],
        async () => {
          await redis.kill();
          await holds(l, PODS, model, 'with Redis down', NSR);
          // A pod with a new identity (app=late), and policies naming it, while the store is down.
          model.late = { cli: ['UDP'] };
          model.web = { cli: ['TCP', 'UDP'], late: ['TCP'] };
          await apply(l, podObject(late, NSR));
          await apply(l, policyObject('late-ingress', 'late', model.late, NSR));
          await apply(l, policyObject('web-ingress', 'web', model.web, NSR));
          await sleep(2000);
          // Among the first pods nothing changed: their verdicts hold whatever reached the node.
          await holds(l, PODS, model, 'with Redis still down', NSR);
          t.diagnostic(
            `with Redis down: the operator is ${(await l.operatorReady()) ? '' : 'not '}ready, the new pod ${l.kubelet.pod(`${NSR}/${late.name}`) ? 'runs' : 'does not run'}`,
          );
          const tStart = Date.now();
          await redis.start();
          t.diagnostic(`redis up again after ${Date.now() - tStart} ms`);
          await podsRunning(l, [late], 30_000, NSR);
          await converge(t, l, [...PODS, late], model, 'after Redis is back', 30_000, NSR);
        },
        NSR,
      );
    },
  );
});
