/**
 * Palisade's own policy kinds end to end, on a real two-node lab: every object goes in with
 * `kubectl apply`, the operator compiles it, the shims put it in the kernel, and real
 * packets between pods on both nodes (and to a host outside the cluster and the nodes' own
 * addresses) are probed.
 *
 * What it proves, one namespace per feature:
 * - deny beats allow: a deny rule for one peer wins over an allow-all and over an explicit
 *   allow of that very peer, across PalisadeNetworkPolicies and a
 *   PalisadeClusterNetworkPolicy, only on the ports it names; a deny rule alone isolates
 *   nothing;
 * - CIDR sets with `except`, built from real pod addresses, on egress and ingress;
 * - entities `cluster`, `world`, `remote-node` and `all`, against pods, a host in the world
 *   (a namespace on the underlay, routed like an outside client) and the nodes' addresses;
 *   `host` (a pod and its own node: each shim maps its node's addresses and the pods'
 *   gateway to `host`);
 *   `kube-apiserver` is not observable here (the apiserver listens on the lab host's
 *   loopback, out of the pods' reach);
 * - port ranges (`port` + `endPort`) not aligned on powers of two, TCP, UDP and ANY, with a
 *   deny range inside an allowed one;
 * and for each, the verdict of every flow is the expected truth in the kernel (probeUntil)
 * AND in the offline simulator fed with the objects read back from the apiserver; every
 * policy reports Valid and Enforced, realised on exactly the nodes that run its pods.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { privilegedSkipReason } from '@palisade/shim/testing';
import type { Lab } from '../lab/lab.js';
import type { ProbePod } from '../lab/prober.js';
import {
  apply,
  expectAgreement,
  namespaceObject,
  nameOf,
  pcnp,
  pnp,
  podObject,
  portsOf,
  startLab,
  startNodeEndpoint,
  startWorldHost,
  waitEnforced,
  waitRunning,
  type Agreement,
  type Cell,
  type ExternalEndpoint,
  type PodInput,
  type PolicyStatusView,
} from './clusterKit.js';

const skip = privilegedSkipReason();

const BASIC = portsOf([80], ['TCP']).concat(portsOf([53], ['UDP']));
const RANGE_PORTS = portsOf([7999, 8000, 8001, 8004, 8005, 8006, 8255, 8256], ['TCP', 'UDP']);

/** The pods of every scenario: `name` label = pod name, pinned so each has both nodes. */
const PODS: Record<string, PodInput[]> = {
  'pal-deny': [
    pod('pal-deny', 'server', 'node-1', { app: 'server' }),
    pod('pal-deny', 'ok-1', 'node-1', { app: 'client' }),
    pod('pal-deny', 'ok-2', 'node-2', { app: 'client' }),
    pod('pal-deny', 'bad', 'node-2', { app: 'bad' }),
  ],
  'pal-cidr': [
    pod('pal-cidr', 'client', 'node-1'),
    pod('pal-cidr', 't1', 'node-1'),
    pod('pal-cidr', 't2', 'node-1'),
    pod('pal-cidr', 't3', 'node-2'),
    pod('pal-cidr', 't4', 'node-2'),
  ],
  'pal-ent': [
    pod('pal-ent', 'to-cluster', 'node-1'),
    pod('pal-ent', 'to-world', 'node-1'),
    pod('pal-ent', 'to-all', 'node-1'),
    pod('pal-ent', 'to-host', 'node-2'),
    pod('pal-ent', 'to-remote', 'node-2'),
    pod('pal-ent', 'from-world', 'node-2'),
    pod('pal-ent', 'from-cluster', 'node-1'),
  ],
  'pal-ports': [
    pod('pal-ports', 'srv-1', 'node-1', { app: 'srv' }, RANGE_PORTS),
    pod('pal-ports', 'srv-2', 'node-2', { app: 'srv' }, RANGE_PORTS),
    pod('pal-ports', 'client-a', 'node-1', { role: 'client' }, RANGE_PORTS),
    pod('pal-ports', 'client-b', 'node-2', { role: 'client' }, RANGE_PORTS),
    pod('pal-ports', 'other', 'node-1', { role: 'other' }, RANGE_PORTS),
  ],
};

function pod(
  namespace: string,
  name: string,
  node: string,
  labels: Record<string, string> = {},
  ports = BASIC,
): PodInput {
  return { namespace, name, node, labels: { name, ...labels }, ports };
}

/** The policy spec part selecting one pod by its `name` label. */
const byName = (name: string): Record<string, unknown> => ({
  endpointSelector: { matchLabels: { name } },
});

/** The node a scenario pod runs on. */
function nodeOf(key: string): string {
  const [ns = '', name] = key.split('/');
  const p = PODS[ns]?.find((x) => x.name === name);
  if (!p?.node) throw new Error(`no pinned pod ${key}`);
  return p.node;
}

describe('Palisade policies in a real cluster', { skip, timeout: 240_000 }, () => {
  let lab: Lab;
  /** Running pods by namespace. */
  const running = new Map<string, ProbePod[]>();
  const t0 = Date.now();

  before(async () => {
    lab = await startLab(2);
    await apply(lab, [
      ...Object.keys(PODS).map((ns) => namespaceObject(ns)),
      ...Object.values(PODS).flatMap((ps) => ps.map(podObject)),
    ]);
    for (const [ns, ps] of Object.entries(PODS))
      running.set(
        ns,
        await waitRunning(
          lab,
          ps.map((p) => `${ns}/${p.name}`),
        ),
      );
    for (const [ns, ps] of running) {
      const placed = ps.map((p) => `${p.key}@${lab.kubelet.pod(p.key)?.node}`);
      for (const p of ps)
        assert.equal(lab.kubelet.pod(p.key)?.node, nodeOf(p.key), `placement: ${placed.join(' ')}`);
      // Without policy every flow passes: every port is served, so a deny below is policy.
      const ports = ns === 'pal-ports' ? RANGE_PORTS : BASIC;
      await expectAgreement(lab, ps, ports, () => 'allow', { deadlineMs: 10_000 });
    }
    console.log(
      `# lab up, ${[...running.values()].flat().length} pods running and open: ${Date.now() - t0} ms`,
    );
  });

  after(async () => {
    if (!lab) return;
    const left = await lab.down();
    console.log(`# lab down; total ${Date.now() - t0} ms`);
    assert.deepEqual(left, { namespaces: [], links: [], pins: false, processes: [] });
  });

  it('deny beats allow: across policies and kinds, on the named ports only; deny rules alone isolate nothing', async () => {
    const ns = 'pal-deny';
    const namespaced = [
      pnp(ns, 'allow-all-in', {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [{}],
      }),
      pnp(ns, 'allow-bad', {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [{ from: [{ endpointSelector: { matchLabels: { app: 'bad' } } }] }],
      }),
      pnp(ns, 'deny-bad-80', {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingressDeny: [
          {
            from: [{ endpointSelector: { matchLabels: { app: 'bad' } } }],
            ports: [{ port: 80, protocol: 'TCP' }],
          },
        ],
      }),
      pnp(ns, 'allow-all-ok-1', { ...byName('ok-1'), ingress: [{}] }),
      pnp(ns, 'ok-2-no-dns-to-ok-1', {
        ...byName('ok-2'),
        egressDeny: [
          {
            to: [{ endpointSelector: { matchLabels: { name: 'ok-1' } } }],
            ports: [{ port: 53, protocol: 'UDP' }],
          },
        ],
      }),
    ];
    const cluster = pcnp('pal-deny-bad-to-ok-1', {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      endpointSelector: { matchLabels: { name: 'ok-1' } },
      ingressDeny: [{ from: [{ endpointSelector: { matchLabels: { app: 'bad' } } }] }],
    });
    await apply(lab, [...namespaced, cluster]);
    const statuses = await waitEnforced(lab, 'pnp', ns, names(namespaced));
    expectDesired(statuses, {
      'allow-all-in': 1,
      'allow-bad': 1,
      'deny-bad-80': 1,
      'allow-all-ok-1': 1,
      'ok-2-no-dns-to-ok-1': 1,
    });
    expectDesired(await waitEnforced(lab, 'pcnp', undefined, ['pal-deny-bad-to-ok-1']), {
      'pal-deny-bad-to-ok-1': 1,
    });

    const truth = (c: Cell): 'allow' | 'deny' => {
      const from = nameOf(c.from);
      const to = nameOf(c.to);
      if (to === 'server' && from === 'bad' && c.port === 80 && c.protocol === 'TCP') return 'deny';
      if (to === 'ok-1' && from === 'bad') return 'deny';
      if (from === 'ok-2' && to === 'ok-1' && c.port === 53 && c.protocol === 'UDP') return 'deny';
      return 'allow';
    };
    const r = await expectAgreement(lab, running.get(ns)!, BASIC, truth);
    report('deny over allow', r);
  });

  it('CIDR sets with except, from real pod addresses, on egress and on ingress', async () => {
    const ns = 'pal-cidr';
    const ip = (name: string): string => running.get(ns)!.find((p) => nameOf(p.key) === name)!.ip;
    const [n1, n2] = lab.nodes;
    const all = `10.${lab.slot}.0.0/16`;
    assert.ok(
      n1 && n2 && n1.podCidr.startsWith(`10.${lab.slot}.`),
      'the lab pod CIDRs are in 10.<slot>/16',
    );
    const policies = [
      pnp(ns, 'client-out', {
        ...byName('client'),
        egress: [
          { to: [{ cidrSet: { cidr: all, except: [`${ip('t2')}/32`, n2.podCidr] } }] },
          // Inside an `except` of the other rule, on one port: allows are a union.
          { to: [{ cidr: `${ip('t4')}/32` }], ports: [{ port: 80, protocol: 'TCP' }] },
        ],
      }),
      pnp(ns, 't1-in', {
        ...byName('t1'),
        ingress: [{ from: [{ cidrSet: { cidr: all, except: [n2.podCidr] } }] }],
        ingressDeny: [
          { from: [{ cidr: `${ip('t2')}/32` }], ports: [{ port: 53, protocol: 'UDP' }] },
        ],
      }),
    ];
    await apply(lab, policies);
    expectDesired(await waitEnforced(lab, 'pnp', ns, names(policies)), {
      'client-out': 1,
      't1-in': 1,
    });

    const onNode2 = (name: string): boolean => nodeOf(`${ns}/${name}`) === 'node-2';
    const truth = (c: Cell): 'allow' | 'deny' => {
      const from = nameOf(c.from);
      const to = nameOf(c.to);
      if (from === 'client') {
        const viaSet = to !== 't2' && !onNode2(to);
        const viaHost = to === 't4' && c.port === 80 && c.protocol === 'TCP';
        if (!viaSet && !viaHost) return 'deny';
      }
      if (to === 't1') {
        if (onNode2(from)) return 'deny';
        if (from === 't2' && c.port === 53 && c.protocol === 'UDP') return 'deny';
      }
      return 'allow';
    };
    const r = await expectAgreement(lab, running.get(ns)!, BASIC, truth);
    report('CIDR sets', r);
  });

  describe('entities', () => {
    const ns = 'pal-ent';
    const ext: ExternalEndpoint[] = [];
    let pods: ProbePod[] = [];

    /** What `other` is, seen from the pod `self`. */
    const kind = (self: string, other: string): 'cluster' | 'world' | 'host' | 'remote-node' => {
      if (other === 'external/world') return 'world';
      if (other.startsWith('node/'))
        return other === `node/${nodeOf(self)}` ? 'host' : 'remote-node';
      return 'cluster';
    };
    const isPod = (k: string): boolean => k.startsWith(`${ns}/`);
    const inCluster = (k: string): boolean => k !== 'world';
    const egressOk: Record<string, (k: string) => boolean> = {
      'to-cluster': inCluster,
      'to-world': (k) => k === 'world',
      'to-all': () => true,
      'to-host': (k) => k === 'host',
      'to-remote': (k) => k === 'remote-node',
    };
    const ingressOk: Record<string, (k: string) => boolean> = {
      'from-world': (k) => k === 'world',
      'from-cluster': inCluster,
    };
    /** The policy's truth for every flow with a pod at one end at least. */
    const truth = (c: Cell): 'allow' | 'deny' | undefined => {
      if (!isPod(c.from) && !isPod(c.to)) return undefined; // not the cluster's business
      const e = isPod(c.from) ? egressOk[nameOf(c.from)] : undefined;
      if (e && !e(kind(c.from, c.to))) return 'deny';
      const i = isPod(c.to) ? ingressOk[nameOf(c.to)] : undefined;
      if (i && !i(kind(c.to, c.from))) return 'deny';
      return 'allow';
    };
    /** A flow between a pod and its own node's address (`host` on both sides). */
    const hostFlow = (c: Cell): boolean =>
      (isPod(c.from) && kind(c.from, c.to) === 'host') ||
      (isPod(c.to) && kind(c.to, c.from) === 'host');

    before(async () => {
      ext.push(await startWorldHost(lab, BASIC));
      for (const n of lab.nodes) ext.push(await startNodeEndpoint(n, BASIC));
      pods = [...running.get(ns)!, ...ext.map((e) => e.pod)];
      const egressTo = (name: string, entity: string): object =>
        pnp(ns, name, { ...byName(name), egress: [{ to: [{ entity }] }] });
      const ingressFrom = (name: string, entity: string): object =>
        pnp(ns, name, { ...byName(name), ingress: [{ from: [{ entity }] }] });
      const policies = [
        egressTo('to-cluster', 'cluster'),
        egressTo('to-world', 'world'),
        // `all`, plus the world host's address as a policy prefix: its identity becomes a
        // CIDR-derived one, which `world` must still cover (for to-world, from-world).
        pnp(ns, 'to-all', {
          ...byName('to-all'),
          egress: [{ to: [{ entity: 'all' }] }, { to: [{ cidr: `${ext[0]!.pod.ip}/32` }] }],
        }),
        egressTo('to-host', 'host'),
        egressTo('to-remote', 'remote-node'),
        ingressFrom('from-world', 'world'),
        ingressFrom('from-cluster', 'cluster'),
      ];
      await apply(lab, policies);
      await waitEnforced(lab, 'pnp', ns, names(policies));
    });
    after(async () => {
      await Promise.all(ext.map((e) => e.close()));
    });

    it('cluster, world, all and remote-node: pods, a host in the world, the other node', async () => {
      const r = await expectAgreement(lab, pods, BASIC, (c) =>
        hostFlow(c) ? undefined : truth(c),
      );
      report('entities', r);
    });

    it('host: a pod and its own node see each other as host', async () => {
      // The simulator has one cluster-wide view, where every node address is remote-node:
      // only the kernel can be asked.
      const r = await expectAgreement(
        lab,
        pods,
        BASIC,
        (c) => (hostFlow(c) ? truth(c) : undefined),
        {
          deadlineMs: 5_000,
          kernelOnly: () => true,
        },
      );
      report('entity host', r);
    });
  });

  it('port ranges: unaligned TCP and UDP ranges, ANY, a deny range inside an allowed one', async () => {
    const ns = 'pal-ports';
    const policies = [
      pnp(ns, 'srv-in', {
        endpointSelector: { matchLabels: { app: 'srv' } },
        ingress: [
          {
            from: [{ endpointSelector: { matchLabels: { role: 'client' } } }],
            ports: [
              { port: 8000, endPort: 8255, protocol: 'TCP' },
              { port: 8004, endPort: 8005, protocol: 'UDP' },
            ],
          },
        ],
        ingressDeny: [
          {
            from: [{ endpointSelector: { matchLabels: { name: 'client-b' } } }],
            ports: [{ port: 8001, endPort: 8004, protocol: 'ANY' }],
          },
        ],
      }),
      pnp(ns, 'client-a-out', {
        ...byName('client-a'),
        egress: [{ ports: [{ port: 7999, endPort: 8005, protocol: 'ANY' }] }],
      }),
    ];
    await apply(lab, policies);
    expectDesired(await waitEnforced(lab, 'pnp', ns, names(policies)), {
      'srv-in': 2,
      'client-a-out': 1,
    });

    const truth = (c: Cell): 'allow' | 'deny' => {
      const from = nameOf(c.from);
      const to = nameOf(c.to);
      const p = c.port as number;
      const within = (lo: number, hi: number): boolean => p >= lo && p <= hi;
      if (from === 'client-a' && !within(7999, 8005)) return 'deny';
      if (to.startsWith('srv-')) {
        if (!from.startsWith('client-')) return 'deny';
        const allowed =
          (c.protocol === 'TCP' && within(8000, 8255)) ||
          (c.protocol === 'UDP' && within(8004, 8005));
        if (!allowed) return 'deny';
        if (from === 'client-b' && within(8001, 8004)) return 'deny';
      }
      return 'allow';
    };
    const r = await expectAgreement(lab, running.get(ns)!, RANGE_PORTS, truth);
    report('port ranges', r);
  });

  it('kubectl get shows every policy Valid and Enforced on all the nodes that need it', async () => {
    for (const kind of ['pnp', 'pcnp'] as const) {
      const table = await lab.kubectlOk(['get', kind, ...(kind === 'pnp' ? ['-A'] : [])]);
      const [header = '', ...rows] = table.trim().split('\n');
      const cols = header.split(/\s+/);
      const at = (row: string, col: string): string | undefined =>
        row.split(/\s+/)[cols.indexOf(col)];
      assert.ok(rows.length > 0, `no ${kind} listed:\n${table}`);
      for (const row of rows) {
        assert.equal(at(row, 'VALID'), 'True', `${kind} row: ${row}\n${table}`);
        assert.equal(at(row, 'ENFORCED'), 'True', `${kind} row: ${row}\n${table}`);
        assert.equal(at(row, 'REALIZED'), at(row, 'DESIRED'), `${kind} row: ${row}\n${table}`);
      }
      console.log(`# kubectl get ${kind}:\n${table.replace(/^/gm, '#   ')}`);
    }
  });
});

/** The names of objects. */
function names(objects: readonly object[]): string[] {
  return objects.map((o) => (o as { metadata: { name: string } }).metadata.name);
}

/** Asserts how many nodes each policy needs (those running the pods it selects). */
function expectDesired(statuses: readonly PolicyStatusView[], want: Record<string, number>): void {
  const got = Object.fromEntries(statuses.map((s) => [s.name, s.nodesDesired]));
  assert.deepEqual(got, want, 'nodesDesired: the nodes that run the pods a policy selects');
}

/** One line on what a scenario checked and how long the kernel took to agree. */
function report(what: string, r: Agreement): void {
  console.log(
    `# ${what}: ${r.cells} flows (${r.allowed} allowed), kernel agreed after ${r.probe.elapsedMs} ms / ${r.probe.rounds} rounds, simulator agreed on ${r.simulated}`,
  );
}
