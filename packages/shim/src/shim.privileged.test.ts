/**
 * The datapath for real: pods in network namespaces wired by the CNI plugin, the shim
 * process enforcing in the kernel, real TCP, UDP, SCTP and ICMP over IPv4 and IPv6. The
 * kernel's verdicts are compared with the evaluator's on the same objects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Evaluator } from '@palisade/core';
import { addon } from './native/addon.js';
import { LocalSource } from './source/localSource.js';
import {
  NodeFixture,
  privilegedSkipReason,
  SHIM_MAIN,
  type TestPod,
} from './testing/nodeFixture.js';
import { defaultAgentPath, ProbeAgent } from './testing/probeAgent.js';
import type { FlowRecord } from './flows/flowRecord.js';

const skip = privilegedSkipReason();

type Proto = 'tcp' | 'udp' | 'sctp' | 'icmp';
interface Probe {
  readonly proto: Proto;
  readonly port: number;
}
const PROBES: readonly Probe[] = [
  { proto: 'tcp', port: 80 },
  { proto: 'tcp', port: 81 },
  { proto: 'tcp', port: 8080 },
  { proto: 'udp', port: 53 },
  { proto: 'sctp', port: 9000 },
  { proto: 'icmp', port: 0 },
];
const PORTS = [
  { containerPort: 80, protocol: 'TCP' },
  { containerPort: 81, protocol: 'TCP' },
  { containerPort: 8080, protocol: 'TCP' },
  { containerPort: 53, protocol: 'UDP' },
  { containerPort: 9000, protocol: 'SCTP' },
];

/** The policies of the parity test: NetworkPolicy and Palisade CRDs together. */
function parityPolicies(b: TestPod, subnets: { v4: string; v6: string }): unknown[] {
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'b-ingress', namespace: 'x' },
      spec: {
        podSelector: { matchLabels: { app: 'b' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: { matchLabels: { app: 'a' } } }],
            ports: [
              { protocol: 'TCP', port: 80 },
              { protocol: 'TCP', port: 8000, endPort: 8100 },
            ],
          },
          {
            from: [{ namespaceSelector: { matchLabels: { team: 'y' } } }],
            ports: [{ protocol: 'UDP', port: 53 }],
          },
        ],
      },
    },
    {
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'PalisadeNetworkPolicy',
      metadata: { name: 'd', namespace: 'y' },
      spec: {
        endpointSelector: { matchLabels: { app: 'd' } },
        ingress: [
          // From anyone (remote 0 in the map): the deny on c must win across the two lookups.
          { ports: [{ port: 8080, protocol: 'TCP' }] },
          {
            from: [{ entity: 'cluster' }],
            ports: [
              { port: 81, protocol: 'TCP' },
              { protocol: 'ICMP', icmpType: 8 },
              { protocol: 'ICMPv6', icmpType: 128 },
            ],
          },
        ],
        ingressDeny: [
          {
            from: [{ endpointSelector: { matchLabels: { app: 'c' } } }],
            ports: [
              { port: 81, protocol: 'TCP' },
              { port: 8080, protocol: 'TCP' },
            ],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'c-egress', namespace: 'y' },
      spec: {
        podSelector: { matchLabels: { app: 'c' } },
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              { ipBlock: { cidr: subnets.v4, except: [`${b.ipv4}/32`] } },
              { ipBlock: { cidr: subnets.v6, except: [`${b.ipv6}/128`] } },
            ],
          },
        ],
      },
    },
  ];
}

describe('datapath enforcement in the kernel', { skip }, () => {
  let node: NodeFixture;
  const agents = new Map<string, ProbeAgent>();
  let a: TestPod, b: TestPod, c: TestPod, d: TestPod;
  const v4Subnet = `10.${(process.pid % 200) + 20}.200.0/24`;
  const v6Subnet = `fd00:${(process.pid % 200) + 20}:200::/120`;

  before(async () => {
    node = NodeFixture.create('dp', { subnets: [v4Subnet, v6Subnet] });
    await node.startShim();
    node.namespace('x', { team: 'x' });
    node.namespace('y', { team: 'y' });
    a = node.addPod('x', 'a', { app: 'a' }, PORTS);
    b = node.addPod('x', 'b', { app: 'b' }, PORTS);
    c = node.addPod('y', 'c', { app: 'c' }, PORTS);
    d = node.addPod('y', 'd', { app: 'd' }, PORTS);
    node.writePods();
    await node.apply();
    for (const p of node.pods) {
      const agent = await ProbeAgent.start(p.netns, defaultAgentPath());
      agents.set(p.name, agent);
      for (const port of PORTS)
        await agent.serve(
          port.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp',
          port.containerPort,
        );
    }
  });

  after(async () => {
    for (const ag of agents.values()) await ag.close().catch(() => undefined);
    await node?.close();
  });

  const agent = (p: TestPod): ProbeAgent => agents.get(p.name) as ProbeAgent;
  const probe = async (
    from: TestPod,
    to: TestPod,
    p: Probe,
    v6 = false,
    timeoutMs = 400,
  ): Promise<boolean> =>
    (await agent(from).probe(p.proto, v6 ? to.ipv6 : to.ipv4, p.port, { timeoutMs })).ok;

  /** Every ordered pair × probe × family: the kernel's answer and the evaluator's. */
  async function matrix(): Promise<{ cell: string; kernel: boolean; model: boolean }[]> {
    const src = new LocalSource([node.policyDir]);
    assert.deepEqual(src.reload(), [], 'the objects are valid');
    const ev = new Evaluator(src.state);
    const rows = await Promise.all(
      node.pods.map(async (from) => {
        const out: { cell: string; kernel: boolean; model: boolean }[] = [];
        for (const to of node.pods) {
          if (to === from) continue;
          for (const p of PROBES)
            for (const v6 of [false, true]) {
              const protocol =
                p.proto === 'icmp' ? (v6 ? 'ICMPv6' : 'ICMP') : (p.proto.toUpperCase() as 'TCP');
              const model =
                ev.evaluate({
                  src: v6 ? from.ipv6 : from.ipv4,
                  dst: v6 ? to.ipv6 : to.ipv4,
                  protocol,
                  dstPort: p.proto === 'icmp' ? (v6 ? 128 : 8) : p.port,
                }).verdict === 'allow';
              const kernel = await probe(from, to, p, v6);
              out.push({
                cell: `${from.name}->${to.name} ${p.proto}/${p.port} v${v6 ? 6 : 4}`,
                kernel,
                model,
              });
            }
        }
        return out;
      }),
    );
    return rows.flat();
  }

  it('without policy every pod reaches every other on every protocol and family', async () => {
    const m = await matrix();
    const wrong = m.filter((r) => !r.kernel || !r.model).map((r) => r.cell);
    assert.deepEqual(wrong, []);
  });

  it('with policies the kernel decides every flow exactly as the evaluator', async () => {
    node.writePolicy('parity.yaml', parityPolicies(b, { v4: v4Subnet, v6: v6Subnet }));
    await node.apply();
    const m = await matrix();
    const disagree = m
      .filter((r) => r.kernel !== r.model)
      .map((r) => `${r.cell}: kernel ${r.kernel}, model ${r.model}`);
    assert.deepEqual(disagree, []);
    const allowed = m.filter((r) => r.kernel).length;
    assert.ok(
      allowed > 10 && allowed < m.length - 10,
      `a mix of verdicts (${allowed}/${m.length} allowed)`,
    );
    const at = (cell: string): boolean => {
      const r = m.find((x) => x.cell === cell);
      assert.ok(r, cell);
      return r.kernel;
    };
    // Ranges (endPort) and exact ports.
    assert.equal(at('a->b tcp/8080 v4'), true);
    assert.equal(at('a->b tcp/8080 v6'), true);
    assert.equal(at('a->b tcp/81 v4'), false);
    // Namespace selector on UDP.
    assert.equal(at('d->b udp/53 v6'), true);
    assert.equal(at('a->b udp/53 v4'), false);
    // Deny beats allow: c is in `cluster` but denied on 81.
    assert.equal(at('a->d tcp/81 v4'), true);
    assert.equal(at('c->d tcp/81 v4'), false);
    assert.equal(at('c->d tcp/81 v6'), false);
    assert.equal(at('a->d tcp/8080 v4'), true, 'allowed from anyone');
    assert.equal(
      at('c->d tcp/8080 v4'),
      false,
      'a deny on one remote beats an allow for any remote',
    );
    // ICMP types.
    assert.equal(at('a->d icmp/0 v4'), true);
    assert.equal(at('a->d icmp/0 v6'), true);
    // CIDR with except, both families, every protocol.
    assert.equal(at('c->a sctp/9000 v4'), true);
    assert.equal(at('c->a tcp/81 v6'), true);
    assert.equal(at('c->b icmp/0 v4'), false);
    assert.equal(at('c->b sctp/9000 v6'), false);
  });

  it('reports drops and new flows as flow events naming the rule', async () => {
    assert.equal(await probe(c, d, { proto: 'tcp', port: 81 }), false);
    assert.equal(await probe(a, d, { proto: 'tcp', port: 81 }), true);
    const { flows } = (await node.api('GET', '/v1/flows?limit=1000')) as { flows: FlowRecord[] };
    const denied = flows.findLast(
      (f) =>
        f.verdict === 'deny' && f.endpoint === 'y/d' && f.remotePod === 'y/c' && f.dstPort === 81,
    );
    assert.ok(denied, 'the drop of c->d:81 is reported');
    assert.equal(denied.reason, 'policy-deny');
    assert.equal(denied.direction, 'ingress');
    assert.ok(
      denied.rules.some((r) => r.startsWith('PalisadeNetworkPolicy/y/d:')),
      denied.rules.join(),
    );
    const allowed = flows.findLast(
      (f) =>
        f.verdict === 'allow' && f.endpoint === 'y/d' && f.remotePod === 'x/a' && f.dstPort === 81,
    );
    assert.ok(allowed, 'the new flow a->d:81 is reported');
    assert.equal(allowed.reason, 'policy-allow');
    const dflt = flows.find(
      (f) => f.verdict === 'deny' && f.reason === 'default-deny' && f.endpoint === 'x/b',
    );
    assert.ok(dflt, 'default-deny drops are reported');
    assert.deepEqual(dflt.rules, []);
  });

  it('established flows survive a removed allow, and are cut by a new deny', async () => {
    const run = agent(a).stream('tcp', b.ipv4, 80, {
      count: 150,
      intervalUs: 20000,
      timeoutMs: 1000,
    });
    await new Promise((r) => setTimeout(r, 600));
    // b stays isolated, but a is no longer allowed: only new flows are refused.
    node.writePolicy('parity.yaml', [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'b-ingress', namespace: 'x' },
        spec: { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'] },
      },
    ]);
    await node.apply();
    assert.equal(
      await probe(a, b, { proto: 'tcp', port: 80 }, false, 300).catch(() => false),
      false,
    );
    const r = await run;
    assert.equal(r.received, r.sent, `established flow kept: ${JSON.stringify(r)}`);

    const run2 = agent(a).stream('udp', b.ipv6, 53, {
      count: 150,
      intervalUs: 20000,
      timeoutMs: 1000,
    });
    await new Promise((r2) => setTimeout(r2, 100));
    node.writePolicy('parity.yaml', [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'b-allow-a', namespace: 'x' },
        spec: {
          podSelector: { matchLabels: { app: 'b' } },
          ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }] }],
        },
      },
    ]);
    await node.apply();
    await new Promise((r2) => setTimeout(r2, 500));
    node.writePolicy('deny.yaml', [
      {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'PalisadeNetworkPolicy',
        metadata: { name: 'cut', namespace: 'x' },
        spec: {
          endpointSelector: { matchLabels: { app: 'b' } },
          ingressDeny: [{ from: [{ endpointSelector: { matchLabels: { app: 'a' } } }] }],
        },
      },
    ]);
    await node.apply();
    const r2 = await run2;
    assert.ok(r2.received > 10 && r2.received < r2.sent - 10, `cut mid-way: ${JSON.stringify(r2)}`);
    node.writePolicy('deny.yaml', undefined);
    node.writePolicy('parity.yaml', undefined);
    await node.apply();
  });

  it('keeps enforcing, exactly, while the shim is killed and restarted', async () => {
    node.writePolicy('restart.yaml', [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'b-from-a-d', namespace: 'x' },
        spec: {
          podSelector: { matchLabels: { app: 'b' } },
          ingress: [
            {
              from: [
                { podSelector: {} },
                {
                  namespaceSelector: { matchLabels: { team: 'y' } },
                  podSelector: { matchLabels: { app: 'd' } },
                },
              ],
            },
          ],
        },
      },
    ]);
    await node.apply();
    const counters = async (): Promise<Record<string, number>> =>
      ((await node.api('GET', '/v1/status')) as { counters: Record<string, number> }).counters;
    const before = await counters();
    const allowedStream = agent(a).stream('udp', b.ipv4, 53, {
      count: 2500,
      intervalUs: 2000,
      timeoutMs: 1000,
    });
    const deniedStream = agent(c).stream('udp', b.ipv6, 53, {
      count: 2500,
      intervalUs: 2000,
      timeoutMs: 1000,
    });
    let newAllowed = 0;
    let newAllowedOk = 0;
    let restarts = 0;
    const started = Date.now();
    const churn = (async () => {
      while (Date.now() - started < 4500) {
        await node.stopShim('SIGKILL');
        await new Promise((r) => setTimeout(r, 100));
        await node.startShim();
        restarts++;
      }
    })();
    const newFlows = (async () => {
      while (Date.now() - started < 4500) {
        newAllowed++;
        if ((await agent(d).probe('tcp', b.ipv4, 80, { timeoutMs: 500 })).ok) newAllowedOk++;
      }
    })();
    const [ok, denied] = await Promise.all([allowedStream, deniedStream, churn, newFlows]);
    assert.ok(restarts >= 5, `restarted ${restarts} times`);
    assert.equal(ok.received, ok.sent, `allowed stream lost nothing: ${JSON.stringify(ok)}`);
    assert.equal(
      denied.received,
      0,
      `denied stream got nothing through: ${JSON.stringify(denied)}`,
    );
    assert.equal(
      newAllowedOk,
      newAllowed,
      'every new allowed connection during restarts succeeded',
    );
    assert.equal(await probe(c, b, { proto: 'tcp', port: 80 }), false);
    const now = await counters();
    assert.equal(now.drop_no_endpoint, before.drop_no_endpoint, 'no packet met a missing endpoint');
    assert.equal(now.drop_not_ready, before.drop_not_ready, 'no endpoint lost its identity');
    assert.equal(now.drop_malformed, before.drop_malformed, 'no packet was misparsed');
  });

  it('repairs a map changed by hand', async () => {
    assert.equal(await probe(a, b, { proto: 'tcp', port: 80 }), true);
    const x = addon();
    const fd = x.objGet(join(node.pinDir, 'pal_policy'));
    try {
      const dump = x.mapDump(fd, 16, 8);
      assert.ok(dump.count > 0);
      x.mapDelete(fd, dump.keys, dump.count);
    } finally {
      x.closeFd(fd);
    }
    assert.equal(await probe(a, b, { proto: 'tcp', port: 80 }), false, 'the tampering took effect');
    const r = (await node.api('POST', '/v1/resync')) as {
      drift: number;
      upserts: { policy: number };
    };
    assert.ok(r.drift > 0 && r.upserts.policy > 0, JSON.stringify(r));
    assert.equal(await probe(a, b, { proto: 'tcp', port: 80 }), true, 'repaired');
    const metrics = (await node.api('GET', '/metrics')) as string;
    assert.match(metrics, /palisade_shim_drift_repaired_total\{node="[^"]+"\} [1-9]/);
  });

  it('CNI DEL removes the endpoint and its map entries', async () => {
    const before = (await node.api('GET', '/v1/status')) as { endpoints: number };
    const out = node.cni('DEL', c.containerId, c.netns);
    assert.equal(out.status, 0, out.stdout + out.stderr);
    const st = (await node.api('GET', '/v1/status')) as {
      endpoints: number;
      maps: Record<string, { entries: number }>;
    };
    assert.equal(st.endpoints, before.endpoints - 1);
    assert.equal(st.maps.pal_endpoints?.entries, before.endpoints - 1);
    await assert.rejects(node.api('GET', `/v1/endpoints/${c.containerId}`), /404/);
  });
});

describe('map capacity', { skip }, () => {
  let node: NodeFixture;
  after(async () => node?.close());

  it('refuses a policy that would overflow the policy map, changing nothing', async () => {
    node = NodeFixture.create('cap', { shimArgs: ['--capacity-policy', '8'] });
    await node.startShim();
    const a = node.addPod('x', 'a', { app: 'a' });
    const b = node.addPod('x', 'b', { app: 'b' });
    node.writePods();
    node.writePolicy('small.yaml', [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'small', namespace: 'x' },
        spec: {
          podSelector: { matchLabels: { app: 'b' } },
          ingress: [
            { from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] },
          ],
        },
      },
    ]);
    await node.apply();
    const ag = await ProbeAgent.start(a.netns, defaultAgentPath());
    const bg = await ProbeAgent.start(b.netns, defaultAgentPath());
    try {
      await bg.serve('tcp', 80);
      await bg.serve('tcp', 81);
      assert.equal((await ag.probe('tcp', b.ipv4, 80, { timeoutMs: 400 })).ok, true);
      assert.equal((await ag.probe('tcp', b.ipv4, 81, { timeoutMs: 400 })).ok, false);
      const before = (await node.api('GET', '/v1/status')) as {
        maps: Record<string, { entries: number }>;
      };
      // 1..65535 minus 80: 30 prefixes per range, far over 8 entries.
      node.writePolicy('big.yaml', [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'big', namespace: 'x' },
          spec: {
            podSelector: { matchLabels: { app: 'b' } },
            ingress: [
              {
                from: [{ podSelector: { matchLabels: { app: 'a' } } }],
                ports: [
                  { protocol: 'TCP', port: 1, endPort: 79 },
                  { protocol: 'TCP', port: 81, endPort: 65535 },
                ],
              },
            ],
          },
        },
      ]);
      await assert.rejects(node.apply(), /MAP_OVERFLOW.*pal_policy/s);
      const st = (await node.api('GET', '/v1/status')) as {
        maps: Record<string, { entries: number }>;
        lastError?: { code: string; message: string };
      };
      assert.equal(st.lastError?.code, 'MAP_OVERFLOW');
      assert.match(st.lastError?.message ?? '', /nothing was changed/);
      assert.deepEqual(st.maps, before.maps, 'the maps are unchanged');
      assert.equal(
        (await ag.probe('tcp', b.ipv4, 80, { timeoutMs: 400 })).ok,
        true,
        'still allowed',
      );
      assert.equal(
        (await ag.probe('tcp', b.ipv4, 81, { timeoutMs: 400 })).ok,
        false,
        'still denied',
      );
      const metrics = (await node.api('GET', '/metrics')) as string;
      assert.match(metrics, /palisade_shim_errors_total\{node="[^"]+",code="MAP_OVERFLOW"\} [1-9]/);
      assert.match(node.log, /apply failed; the kernel keeps what it had/);
    } finally {
      await ag.close();
      await bg.close();
    }
  });
});

describe('missing kernel pieces', { skip }, () => {
  it('names bpffs when the pin root is not a bpffs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nobpffs-'));
    try {
      const r = spawnSync(
        process.execPath,
        [SHIM_MAIN, '--node', 'nobpffs', '--bpffs', dir, '--socket', join(dir, 's.sock')],
        {
          encoding: 'utf8',
          timeout: 10000,
        },
      );
      assert.equal(r.status, 1);
      assert.match(r.stderr, /BPFFS_MISSING: .*is not a bpffs mount.*mount -t bpf bpf/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the shim refuses an unusable node name and bad flags with a message', () => {
    const r = spawnSync(process.execPath, [SHIM_MAIN, '--capacity-policy', 'lots'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--capacity-policy must be a positive integer/);
  });
});
