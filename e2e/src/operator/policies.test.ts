/**
 * Policy reconciliation against a real kube-apiserver: the operator's compiled state
 * equals `palisade policy simulate` on the same objects; a policy that gets past the schema
 * but is invalid gets Valid=False naming the field and disturbs nothing else; status,
 * printer columns and the finalizer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Evaluator, policyEntries } from '@palisade/core';
import { loadObjects, Simulation, type ProbePort, type SimResult } from '@palisade/cli';
import { Resources, type KubeClient, type KubeObject } from '@palisade/operator';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../harness/binaries.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import {
  adminClient,
  createPod,
  ensureNamespace,
  OPERATOR_NS,
  podObject,
  startOperator,
  waitFor,
  type RunningOperator,
  type TestPod,
} from './testCluster.js';

const NAMESPACES: Record<string, Record<string, string>> = {
  shop: { team: 'shop' },
  data: { team: 'data', tier: 'backend' },
};
const PODS: TestPod[] = [
  {
    namespace: 'shop',
    name: 'web',
    labels: { app: 'web' },
    ips: ['10.1.0.1', 'fd00:1::1'],
    ports: [{ name: 'http', containerPort: 8080 }],
  },
  {
    namespace: 'shop',
    name: 'web2',
    labels: { app: 'web' },
    ips: ['10.1.0.2'],
    ports: [{ name: 'http', containerPort: 8080 }],
  },
  { namespace: 'shop', name: 'cart', labels: { app: 'cart' }, ips: ['10.1.0.3', 'fd00:1::3'] },
  {
    namespace: 'data',
    name: 'db',
    labels: { app: 'db' },
    ips: ['10.2.0.1', 'fd00:2::1'],
    ports: [{ name: 'pg', containerPort: 5432 }],
  },
  { namespace: 'data', name: 'cache', labels: { app: 'cache' }, ips: ['10.2.0.2'] },
];
const POLICIES: KubeObject[] = [
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'db-from-shop', namespace: 'data' },
    spec: {
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { team: 'shop' } },
              podSelector: { matchLabels: { app: 'cart' } },
            },
          ],
          ports: [{ port: 'pg' }],
        },
      ],
    },
  },
  {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeNetworkPolicy',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      endpointSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ entity: 'cluster' }], ports: [{ port: 8080 }] }],
      egressDeny: [{ to: [{ cidr: '10.2.0.0/24', except: ['10.2.0.2/32'] }] }],
    },
  },
  {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'PalisadeClusterNetworkPolicy',
    metadata: { name: 'no-cache-from-web' },
    spec: {
      endpointSelector: { matchLabels: { app: 'cache' } },
      ingressDeny: [{ from: [{ endpointSelector: { matchLabels: { app: 'web' } } }] }],
    },
  },
];
const PROBES: ProbePort[] = [
  { port: 80, protocol: 'TCP' },
  { port: 8080, protocol: 'TCP' },
  { port: 5432, protocol: 'TCP' },
  { port: 'pg', protocol: 'TCP' },
  { port: 53, protocol: 'UDP' },
];

function namespaceObject(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: NAMESPACES[name] ?? {} },
  };
}

async function apply(client: KubeClient, obj: KubeObject): Promise<void> {
  const res =
    obj.kind === 'NetworkPolicy'
      ? Resources.networkPolicies
      : obj.kind === 'PalisadeNetworkPolicy'
        ? Resources.palisadeNetworkPolicies
        : Resources.palisadeClusterNetworkPolicies;
  const have = await client.get(res, obj.metadata.name, obj.metadata.namespace);
  if (have)
    await client.replace(res, {
      ...obj,
      metadata: { ...obj.metadata, resourceVersion: have.metadata.resourceVersion ?? '' },
    });
  else await client.create(res, obj);
}

function verdicts(results: readonly SimResult[]): string[] {
  return results.map((r) => `${r.from} -> ${r.to} ${r.port}/${r.protocol} ${r.verdict}`).sort();
}

describe('operator: policy reconciliation on a real apiserver', () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let op: RunningOperator;
  const dir = mkdtempSync(join(tmpdir(), 'palisade-sim-'));

  before(async () => {
    cp = await startControlPlane();
    await cp.applyCrds();
    client = adminClient(cp);
    await ensureNamespace(client, OPERATOR_NS);
    for (const ns of Object.keys(NAMESPACES)) await ensureNamespace(client, ns, NAMESPACES[ns]);
    for (const p of PODS) await createPod(client, p);
    for (const p of POLICIES) await apply(client, p);
    op = await startOperator(cp);
  });

  after(async () => {
    await op?.stop();
    client?.close();
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('compiles the same verdicts as `palisade policy simulate` on the same objects', async () => {
    const objects = [
      ...Object.keys(NAMESPACES).map(namespaceObject),
      ...PODS.map(podObject),
      ...POLICIES,
    ];
    writeFileSync(join(dir, 'all.yaml'), objects.map((o) => stringify(o)).join('---\n'));
    const cli = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'packages/cli/dist/main.js'),
        'policy',
        'simulate',
        '-f',
        dir,
        ...PROBES.flatMap((p) => ['--port', `${p.port}/${p.protocol}`]),
        '-o',
        'json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const expected = verdicts((JSON.parse(cli.stdout) as { results: SimResult[] }).results);
    const engine = op.operator.engine;
    assert.ok(engine);
    // Wait until every pod is an endpoint and every policy is compiled.
    await waitFor(
      'all pods and policies compiled',
      () => engine.compiled.endpoints.size === PODS.length && engine.compiled.policy.size > 0,
    );
    const sim = new Simulation(loadObjects([dir]));
    const actual = verdicts(sim.simulate(PROBES, new Evaluator(engine.compiled)));
    assert.deepEqual(actual, expected);
    assert.ok(
      expected.some((l) => l.endsWith('deny')) && expected.some((l) => l.endsWith('allow')),
    );
  });

  it('reports Valid=True with observedGeneration, and kubectl shows it in the printer columns', async () => {
    const pnp = await waitFor('PNP status', async () => {
      const o = await client.get(Resources.palisadeNetworkPolicies, 'web', 'shop');
      const st = o?.status as
        | { observedGeneration?: number; conditions?: { type: string; status: string }[] }
        | undefined;
      return st?.observedGeneration === o?.metadata.generation &&
        st?.conditions?.some((c) => c.type === 'Valid' && c.status === 'True')
        ? o
        : undefined;
    });
    assert.ok(pnp.metadata.finalizers?.includes('palisade.dev/policy'));
    const table = await cp.kubectlOk(['get', 'pnp', '-n', 'shop']);
    assert.match(table, /NAME\s+VALID/);
    assert.match(table, /web\s+True/);
    const wide = await cp.kubectlOk(['get', 'pcnp']);
    assert.match(wide, /no-cache-from-web\s+True/);
  });

  it('an invalid policy that passes the schema gets Valid=False naming the field and leaves every other policy as it was', async () => {
    const engine = op.operator.engine;
    assert.ok(engine);
    const before = JSON.stringify([...policyEntries(engine.compiled)]);
    const gen1 = (await client.get(Resources.palisadeNetworkPolicies, 'web', 'shop'))?.metadata
      .generation;
    const bad: KubeObject = {
      ...POLICIES[1]!,
      spec: {
        endpointSelector: { matchLabels: { app: 'web' } },
        ingress: [{ ports: [{ port: 8080, protocol: 'TCP' }], http: [{ path: '/api/(' }] }],
      },
    };
    await apply(client, bad);
    const cond = await waitFor('Valid=False', async () => {
      const o = await client.get(Resources.palisadeNetworkPolicies, 'web', 'shop');
      const st = o?.status as
        | {
            observedGeneration?: number;
            conditions?: { type: string; status: string; reason: string; message: string }[];
          }
        | undefined;
      const c = st?.conditions?.find((x) => x.type === 'Valid');
      return c?.status === 'False' && st?.observedGeneration === o?.metadata.generation
        ? c
        : undefined;
    });
    assert.equal(cond.reason, 'InvalidRegex');
    assert.match(cond.message, /spec\.ingress\[0\]\.http\[0\]\.path/);
    assert.match(
      cond.message,
      new RegExp(`Generation ${gen1} \\(the last valid one\\) stays enforced`),
    );
    // Nothing changed in the compiled state: the last valid generation stays, others untouched.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(JSON.stringify([...policyEntries(engine.compiled)]), before);
    // A brand-new invalid policy enforces nothing and disturbs nothing.
    await apply(client, {
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'PalisadeNetworkPolicy',
      metadata: { name: 'broken', namespace: 'data' },
      spec: {
        endpointSelector: {},
        ingress: [{ ports: [{ port: 80, protocol: 'TCP' }], http: [{ path: '[' }] }],
      },
    });
    await waitFor('broken is Valid=False', async () => {
      const o = await client.get(Resources.palisadeNetworkPolicies, 'broken', 'data');
      const c = (
        o?.status as
          { conditions?: { type: string; status: string; message: string }[] } | undefined
      )?.conditions?.find((x) => x.type === 'Valid');
      return c?.status === 'False' && /Nothing of it is enforced/.test(c.message);
    });
    assert.equal(JSON.stringify([...policyEntries(engine.compiled)]), before);
    const table = await cp.kubectlOk(['get', 'pnp', '-A']);
    assert.match(table, /broken\s+False/);
    // Fixing it brings Valid back to True.
    await apply(client, POLICIES[1]!);
    await waitFor('Valid=True again', async () => {
      const o = await client.get(Resources.palisadeNetworkPolicies, 'web', 'shop');
      return (
        o?.status as { conditions?: { type: string; status: string }[] } | undefined
      )?.conditions?.some((c) => c.type === 'Valid' && c.status === 'True');
    });
  });

  it('deleting a policy removes it from the compiled state, then its finalizer, then the object', async () => {
    const engine = op.operator.engine;
    assert.ok(engine);
    const hasRule = (): boolean =>
      [...policyEntries(engine.compiled)].some((e) =>
        e.value.rules.some((r) => engine.ruleInfo(r)?.policy.name === 'no-cache-from-web'),
      );
    await waitFor('pcnp compiled', hasRule);
    await cp.kubectlOk(['delete', 'pcnp', 'no-cache-from-web', '--wait=true', '--timeout=20s']);
    assert.equal(hasRule(), false);
    assert.equal(
      await client.get(Resources.palisadeClusterNetworkPolicies, 'no-cache-from-web'),
      undefined,
    );
  });

  it('keeps the ipcache current: IPv4 and IPv6 pod IPs, label changes, nodes and host-network pods', async () => {
    const engine = op.operator.engine;
    assert.ok(engine);
    const ipc = (): Map<string, number> => engine.compiled.ipcache;
    // Pods: both families map to the pod's identity.
    const web = [...engine.compiled.endpoints.values()].find((e) => e.pod === 'shop/web');
    assert.ok(web);
    assert.equal(ipc().get('10.1.0.1/32'), web.identity);
    assert.equal(ipc().get('fd00:1::1/128'), web.identity);
    // A label change moves the pod's addresses to its new identity.
    await client.mergePatch(Resources.pods, 'cart', 'shop', {
      metadata: { labels: { app: 'cart', v: '2' } },
    });
    const cartOld = [...engine.compiled.endpoints.values()].find(
      (e) => e.pod === 'shop/cart',
    )?.identity;
    const cartNew = await waitFor('cart relabelled', () => {
      const id = [...engine.compiled.endpoints.values()].find(
        (e) => e.pod === 'shop/cart',
      )?.identity;
      return id !== undefined && id !== cartOld ? id : undefined;
    });
    assert.equal(ipc().get('10.1.0.3/32'), cartNew);
    assert.equal(ipc().get('fd00:1::3/128'), cartNew);
    // Nodes and host-network pods: remote-node (6).
    await client.create(Resources.nodes, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-1' },
    });
    await client.mergePatch(
      Resources.nodes,
      'node-1',
      undefined,
      {
        status: {
          addresses: [
            { type: 'InternalIP', address: '192.168.50.1' },
            { type: 'InternalIP', address: 'fd00:50::1' },
            { type: 'Hostname', address: 'node-1' },
          ],
        },
      },
      'status',
    );
    await createPod(client, {
      namespace: 'shop',
      name: 'agent',
      labels: { app: 'agent' },
      hostNetwork: true,
      node: 'node-1',
      ips: ['192.168.50.2'],
    });
    await waitFor(
      'node addresses',
      () =>
        ipc().get('192.168.50.1/32') === 6 &&
        ipc().get('fd00:50::1/128') === 6 &&
        ipc().get('192.168.50.2/32') === 6,
    );
    assert.equal(
      [...engine.compiled.endpoints.values()].some((e) => e.pod === 'shop/agent'),
      false,
      'host-network pods are not endpoints',
    );
    await client.delete(Resources.nodes, 'node-1');
    await waitFor('node gone', () => !ipc().has('192.168.50.1/32') && !ipc().has('fd00:50::1/128'));
    assert.equal(ipc().get('192.168.50.2/32'), 6, 'the host-network pod still names its node');
  });
});
