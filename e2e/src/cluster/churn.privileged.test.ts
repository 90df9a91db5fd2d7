/**
 * Identity churn under traffic, on a real two-node lab: while an allowed client streams to
 * a server on the other node (UDP and TCP, in back-to-back chunks, so both established and
 * new flows cross the churn) and an intruder streams to the same server (denied by
 * identity only), pods are created, relabelled (so other policies select them), deleted,
 * and replaced by pods that reuse the deleted pods' addresses with other labels.
 *
 * What it proves:
 * - the allowed streams lose no message and never break, although the server's policy is
 *   recompiled each time a churned pod becomes a client;
 * - the denied streams get nothing through: not one datagram reaches the server's counting
 *   port (checked by a positive control first), no TCP connection opens;
 * - an address reused by a pod with another identity never carries the old identity's
 *   rights: the new pod is created as soon as the old one's sandbox is gone (the old object
 *   maybe not yet), with the CNI steered to the freed address, and from the moment it
 *   exists neither it nor a client reaching it gets through where the old pod would have;
 * - afterwards every pod's reachability (relabelled and address-reusing pods included) is
 *   what the policies say of its current labels, in the kernel (probeUntil) and in the
 *   simulator fed with the objects read back from the apiserver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { privilegedSkipReason, ProbeAgent } from '@palisade/shim/testing';
import type { Lab } from '../lab/lab.js';
import {
  apply,
  expectAgreement,
  namespaceObject,
  nameOf,
  pnp,
  podObject,
  portsOf,
  startLab,
  steerNextAddress,
  StreamLoop,
  waitEnforced,
  waitGone,
  waitRunning,
  type Cell,
  type StreamTotals,
} from './clusterKit.js';

const skip = privilegedSkipReason();
const NS = 'churn';
const PORTS = portsOf([80], ['TCP']).concat(portsOf([7000], ['UDP']));
/** The server's counting port: what the intruder aims at. */
const COUNTED = 7001;

/** The labels that matter to the policies. */
interface Labels {
  readonly app?: string;
  readonly role?: string;
  readonly tier?: string;
}

/**
 * The policies, as a truth function of the current labels: the server takes clients on 80
 * and 7000–7001; tier a takes only clients, tier b everyone but clients (a deny rule);
 * tier c may only send to tier c.
 */
function verdict(f: Labels, t: Labels, c: Cell): 'allow' | 'deny' {
  if (f.tier === 'c' && t.tier !== 'c') return 'deny';
  if (t.app === 'server') {
    const port =
      (c.protocol === 'TCP' && c.port === 80) ||
      (c.protocol === 'UDP' && (c.port as number) >= 7000 && (c.port as number) <= 7001);
    return f.role === 'client' && port ? 'allow' : 'deny';
  }
  if (t.tier === 'a' && f.role !== 'client') return 'deny';
  if (t.tier === 'b' && f.role === 'client') return 'deny';
  return 'allow';
}

const POLICIES = [
  pnp(NS, 'server-in', {
    endpointSelector: { matchLabels: { app: 'server' } },
    ingress: [
      {
        from: [{ endpointSelector: { matchLabels: { role: 'client' } } }],
        ports: [
          { port: 80, protocol: 'TCP' },
          { port: 7000, endPort: 7001, protocol: 'UDP' },
        ],
      },
    ],
  }),
  pnp(NS, 'tier-a', {
    endpointSelector: { matchLabels: { tier: 'a' } },
    ingress: [{ from: [{ endpointSelector: { matchLabels: { role: 'client' } } }] }],
  }),
  pnp(NS, 'tier-b', {
    endpointSelector: { matchLabels: { tier: 'b' } },
    ingress: [{}],
    ingressDeny: [{ from: [{ endpointSelector: { matchLabels: { role: 'client' } } }] }],
  }),
  pnp(NS, 'tier-c', {
    endpointSelector: { matchLabels: { tier: 'c' } },
    egress: [{ to: [{ endpointSelector: { matchLabels: { tier: 'c' } } }] }],
  }),
];

const TIERS = ['a', 'b', 'c'] as const;
const nextTier = (t: string | undefined): string => TIERS[(TIERS.indexOf(t as 'a') + 1) % 3]!;
const w = (i: number): string => `w-${String(i).padStart(2, '0')}`;

describe('identity churn under traffic', { skip, timeout: 240_000 }, () => {
  let lab: Lab;
  const t0 = Date.now();
  /** The labels of every pod that exists, as the test set them. */
  const model = new Map<string, Labels>();
  const agents: ProbeAgent[] = [];

  const truth = (c: Cell): 'allow' | 'deny' => {
    const f = model.get(nameOf(c.from));
    const t = model.get(nameOf(c.to));
    if (!f || !t) throw new Error(`no model for ${c.from} or ${c.to}`);
    return verdict(f, t, c);
  };
  const create = async (name: string, labels: Labels, node?: string): Promise<void> => {
    model.set(name, labels);
    const ports = PORTS.concat(labels.app === 'server' ? portsOf([COUNTED], ['UDP']) : []);
    await apply(lab, [
      podObject({
        namespace: NS,
        name,
        labels: { name, ...labels },
        ports,
        ...(node ? { node } : {}),
      }),
    ]);
  };
  const agentIn = async (name: string): Promise<ProbeAgent> => {
    const run = lab.kubelet.pod(`${NS}/${name}`);
    if (!run) throw new Error(`${name} is not running`);
    const a = await ProbeAgent.start(run.netns);
    agents.push(a);
    return a;
  };
  const ipOf = (name: string): string => {
    const run = lab.kubelet.pod(`${NS}/${name}`);
    if (!run) throw new Error(`${name} is not running`);
    return run.ip;
  };

  before(async () => {
    lab = await startLab(2);
    await apply(lab, [namespaceObject(NS), ...POLICIES]);
    await create('server', { app: 'server' }, 'node-2');
    await create('client', { role: 'client' }, 'node-1');
    await create('intruder', { role: 'intruder' }, 'node-1');
    const stable = await waitRunning(
      lab,
      ['server', 'client', 'intruder'].map((n) => `${NS}/${n}`),
    );
    await waitEnforced(lab, 'pnp', NS, ['server-in']);
    await expectAgreement(lab, stable, PORTS, truth);
    console.log(`# lab up, stable pods running, policy enforced: ${Date.now() - t0} ms`);
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    if (!lab) return;
    const left = await lab.down();
    console.log(`# lab down; total ${Date.now() - t0} ms`);
    assert.deepEqual(left, { namespaces: [], links: [], pins: false, processes: [] });
  });

  /** Checks the server's counting port counts (positive control), then resets it. */
  const countingPort = async (server: string): Promise<ProbeAgent> => {
    const counter = lab.kubelet.pod(`${NS}/server`)?.agent;
    assert.ok(counter, 'the server has its port agent');
    await counter.count('udp', COUNTED);
    const control = await (
      await agentIn('client')
    ).stream('udp', server, COUNTED, { count: 20, intervalUs: 1000, timeoutMs: 200 });
    assert.equal(control.sent, 20);
    await waitCount(counter, 20);
    await counter.count('udp', COUNTED); // reset
    return counter;
  };

  /** Creates 24 pods (spread by the scheduler), tiers a, b, c in turn, in 3 batches. */
  const createWorkers = async (): Promise<string[]> => {
    const created = Array.from({ length: 24 }, (_, i) => w(i));
    for (let b = 0; b < 3; b++)
      await Promise.all(
        created
          .slice(b * 8, b * 8 + 8)
          .map((n, j) => create(n, { tier: TIERS[(b * 8 + j) % 3]!, role: 'worker' })),
      );
    await waitRunning(
      lab,
      created.map((n) => `${NS}/${n}`),
    );
    return created;
  };

  /**
   * Relabels pods: next tier, every other one becomes a client, so server-in, tier-a and
   * tier-b select them differently (and the server's policy is recompiled under the streams).
   */
  const relabel = async (names: readonly string[]): Promise<void> => {
    const previous = new Map(names.map((n) => [n, model.get(n)!]));
    await Promise.all(
      names.map(async (n, i) => {
        const l: Labels = {
          tier: nextTier(model.get(n)?.tier),
          role: i % 2 === 0 ? 'client' : 'worker',
        };
        model.set(n, l);
        const args = ['label', 'pod', '-n', NS, n, `tier=${l.tier}`, `role=${l.role}`];
        await lab.kubectlOk([...args, '--overwrite']);
      }),
    );
    for (const [n, old] of previous)
      assert.ok(
        [...model.keys()].some((o) => changes(n, old, o)),
        `relabelling ${n} changes some verdict`,
      );
  };
  /** True when `n`'s relabelling from `old` changes a verdict between it and `o`. */
  const changes = (n: string, old: Labels, o: string): boolean => {
    if (o === n) return false;
    const out = { from: `${NS}/${n}`, to: `${NS}/${o}`, port: 80, protocol: 'TCP' };
    const into = { from: out.to, to: out.from, port: 80, protocol: 'TCP' };
    const now = model.get(n)!;
    const other = model.get(o)!;
    return (
      verdict(old, other, out) !== verdict(now, other, out) ||
      verdict(other, old, into) !== verdict(other, now, into)
    );
  };

  /** Deletes pods and waits until they are gone. */
  const remove = async (names: readonly string[]): Promise<void> => {
    await lab.kubectlOk(['delete', 'pod', '-n', NS, ...names, '--wait=false']);
    await waitGone(
      lab,
      names.map((n) => `${NS}/${n}`),
    );
    for (const n of names) model.delete(n);
  };

  /**
   * Deletes `old` and, as soon as its sandbox is gone (its address free, the object maybe
   * not yet), creates `name` with `labels` on the same node, its CNI steered to the freed
   * address. While `watchMs` runs from the moment the new pod exists, probes it → server
   * and client → it (both must stay denied: the new identity is a worker of tier b), and
   * returns what got through. `reused` says whether the address was taken over.
   */
  const replace = async (
    old: string,
    name: string,
    labels: Labels,
    watch: { server: string; client: ProbeAgent; ms: number } | undefined,
  ): Promise<{ reused: string | undefined; leaked: string[] }> => {
    const was = lab.kubelet.pod(`${NS}/${old}`)!;
    await lab.kubectlOk(['delete', 'pod', '-n', NS, old, '--wait=false']);
    await waitFor(() => lab.kubelet.pod(`${NS}/${old}`) === undefined, `${old} torn down`);
    steerNextAddress(lab.node(was.node), was.ip);
    const t = Date.now();
    await create(name, labels, was.node);
    await waitFor(() => lab.kubelet.pod(`${NS}/${name}`) !== undefined, `${name} started`);
    const run = lab.kubelet.pod(`${NS}/${name}`)!;
    const leaked: string[] = [];
    if (watch) {
      const own = await agentIn(name);
      const end = Date.now() + watch.ms;
      while (Date.now() < end) {
        const [out, into] = await Promise.all([
          own.probe('tcp', watch.server, 80, { timeoutMs: 150 }),
          watch.client.probe('tcp', run.ip, 80, { timeoutMs: 150 }),
        ]);
        if (out.ok) leaked.push(`${name} → server at +${Date.now() - t} ms`);
        if (into.ok) leaked.push(`client → ${name} at +${Date.now() - t} ms`);
      }
    }
    await waitGone(lab, [`${NS}/${old}`]);
    model.delete(old);
    await waitRunning(lab, [`${NS}/${name}`]);
    return { reused: run.ip === was.ip ? `${name}@${run.ip} (was ${old})` : undefined, leaked };
  };

  it('churns ~30 pods while an allowed flow loses nothing and a denied one gets nothing through', async () => {
    const server = ipOf('server');
    const counter = await countingPort(server);
    const chunk = { count: 400, intervalUs: 2500, timeoutMs: 1000 };
    const streams = {
      allowedUdp: new StreamLoop(await agentIn('client'), 'udp', server, 7000, chunk),
      allowedTcp: new StreamLoop(await agentIn('client'), 'tcp', server, 80, chunk),
      deniedUdp: new StreamLoop(await agentIn('intruder'), 'udp', server, COUNTED, {
        ...chunk,
        timeoutMs: 100,
      }),
      deniedTcp: new StreamLoop(await agentIn('intruder'), 'tcp', server, 80, chunk),
    };
    await waitChunks(Object.values(streams), 1);
    const tChurn = Date.now();
    const steps: string[] = [];
    const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      const t = Date.now();
      const r = await f();
      steps.push(`${what} ${Date.now() - t} ms`);
      return r;
    };

    const entries = async (): Promise<number | undefined> =>
      (await lab.shimStatus(lab.node('node-2')))?.maps?.['pal_policy']?.entries;
    const entriesBefore = await entries();
    const created = await timed('create 24', createWorkers);
    const entriesCreated = await entries();
    await timed('relabel 12', () => relabel(created.slice(0, 12)));
    await waitEnforced(lab, 'pnp', NS, ['server-in', 'tier-a', 'tier-b', 'tier-c']);
    const entriesRelabelled = await entries();
    // w-02 and w-08 are now clients of tier a: the server and tier a take them.
    assert.deepEqual(
      ['w-02', 'w-08'].map((n) => model.get(n)),
      [
        { tier: 'a', role: 'client' },
        { tier: 'a', role: 'client' },
      ],
    );
    await timed('delete 6', () => remove(created.slice(14, 20)));
    const client = await agentIn('client');
    const watch = { server, client, ms: 1500 };
    const replaced = await timed('delete and reuse 4', async () => [
      await replace('w-02', 'r-0', { tier: 'b', role: 'worker' }, watch),
      await replace('w-08', 'r-1', { tier: 'b', role: 'worker' }, watch),
      await replace('w-13', 'r-2', { tier: 'c', role: 'client' }, undefined),
      await replace('w-12', 'r-3', { tier: 'b', role: 'client' }, undefined),
    ]);
    const churnMs = Date.now() - tChurn;

    // The streams keep running for one more chunk after the churn, then stop.
    const n0 = Object.values(streams).map((s) => s.chunks);
    await waitChunks(Object.values(streams), 1, n0);
    const totals = {
      allowedUdp: await streams.allowedUdp.stop(),
      allowedTcp: await streams.allowedTcp.stop(),
      deniedUdp: await streams.deniedUdp.stop(),
      deniedTcp: await streams.deniedTcp.stop(),
    };
    const counted = await counter.counted(COUNTED);
    const reused = replaced.flatMap((r) => (r.reused ? [r.reused] : []));
    const leaked = replaced.flatMap((r) => r.leaked);
    console.log(`# churn in ${churnMs} ms: ${steps.join(', ')}`);
    console.log(
      `# node-2 policy map entries: ${entriesBefore} before, ${entriesCreated} after creating, ${entriesRelabelled} after relabelling`,
    );
    console.log(`# addresses reused: ${reused.join(', ') || 'none'}`);
    for (const [k, v] of Object.entries(totals)) console.log(`# ${k}: ${summary(v)}`);
    console.log(`# datagrams the intruder got to the server's counting port: ${counted}`);

    for (const k of ['allowedUdp', 'allowedTcp'] as const) {
      const s = totals[k];
      assert.ok(s.chunks >= 3, `${k} ran across the churn: ${summary(s)}`);
      assert.equal(s.failed, 0, `${k}: no flow broke: ${summary(s)}`);
      assert.equal(s.received, s.sent, `${k}: nothing lost: ${summary(s)}`);
    }
    for (const k of ['deniedUdp', 'deniedTcp'] as const)
      assert.equal(totals[k].received, 0, `${k}: nothing came back: ${summary(totals[k])}`);
    assert.ok(totals.deniedUdp.sent > 0, 'the intruder did send');
    assert.equal(counted, 0, 'not one intruder datagram reached the server');
    assert.deepEqual(leaked, [], 'a reused address never carried the old identity');
    assert.ok(reused.length >= 2, `the CNI reused freed addresses: ${reused.join(', ')}`);
  });

  it('afterwards every pod reaches exactly what its current labels allow (kernel and simulator)', async () => {
    const keys = [...model.keys()].sort().map((n) => `${NS}/${n}`);
    const pods = await waitRunning(lab, keys);
    const r = await expectAgreement(lab, pods, PORTS, truth);
    console.log(
      `# final: ${pods.length} pods, ${r.cells} flows (${r.allowed} allowed), kernel agreed after ${r.probe.elapsedMs} ms / ${r.probe.rounds} rounds, simulator agreed on ${r.simulated}`,
    );
  });
});

function summary(s: StreamTotals): string {
  return `${s.chunks} chunks, sent ${s.sent}, received ${s.received}, failed ${s.failed}${s.lost.length && s.received ? `, lost ${s.lost.join(' ')}` : ''}${s.errors.length ? `, errors ${s.errors.join('; ')}` : ''}`;
}

async function waitChunks(
  loops: readonly StreamLoop[],
  more: number,
  from: readonly number[] = loops.map(() => 0),
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (loops.some((l, i) => l.chunks < (from[i] ?? 0) + more)) {
    if (Date.now() > deadline) throw new Error('a stream stopped making progress');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function waitCount(agent: ProbeAgent, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const got = await agent.counted(COUNTED);
    if (got === n) return;
    if (Date.now() > deadline) throw new Error(`counting port: ${got} of ${n} datagrams`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
