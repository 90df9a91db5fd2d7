/**
 * Policy distribution end to end, with real processes: a kube-apiserver, two operator
 * replicas (leader and standby, `palisade-operator`), and two nodes — network namespaces,
 * each with a real shim (`palisade-shim --operator`, eBPF in the kernel) and pods wired by
 * the real CNI plugin. One shim has certificate files, the other bootstraps its certificate
 * with a pod-bound service-account token.
 *
 * Checked: a policy reaches the kernel of exactly the node that needs it; the Enforced
 * status counts the nodes; with the leader killed the kernels keep enforcing and the
 * shims resync to the new leader with no packet wrongly allowed or dropped; and clients
 * without a certificate, with an expired one, or claiming another node are refused.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { distributionRawClient } from '@palisade/api';
import {
  caFromPem,
  generateCa,
  issueNodeCertificate,
  Resources,
  type CertificateAuthority,
  type KubeClient,
  type KubeObject,
  type Lease,
} from '@palisade/operator';
import {
  defaultAgentPath,
  ip,
  NodeFixture,
  privilegedSkipReason,
  ProbeAgent,
  type TestPod,
} from '@palisade/shim/testing';
import { REPO_ROOT } from '../harness/binaries.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { adminClient, ensureNamespace, OPERATOR_NS, waitFor } from '../operator/testCluster.js';

/** Waits until `cond` holds (throws naming `what` after `ms`). */
function until(cond: () => unknown, ms: number, what: string): Promise<unknown> {
  return waitFor(what, async () => ((await cond()) ? true : undefined), ms);
}

const OPERATOR_MAIN = join(REPO_ROOT, 'packages/operator/dist/main.js');
/** The underlay between the host (operators) and the nodes: a bridge on a test-only subnet. */
const UNDERLAY = `198.19.${process.pid % 250}`;
const BRIDGE = `palul${process.pid % 100000}`;

/** Connects a node's namespace to the underlay bridge (its address: `${UNDERLAY}.${host}`). */
function plugIntoUnderlay(node: NodeFixture, host: number): void {
  const h = `ulh${process.pid % 10000}${host}`;
  const n = `uln${process.pid % 10000}${host}`;
  ip('link', 'add', h, 'type', 'veth', 'peer', 'name', n);
  ip('link', 'set', n, 'netns', node.name);
  ip('link', 'set', h, 'master', BRIDGE, 'up');
  ip('-n', node.name, 'addr', 'add', `${UNDERLAY}.${host}/24`, 'dev', n);
  ip('-n', node.name, 'link', 'set', n, 'up');
}
const NS = 'dist';
const skip = privilegedSkipReason();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

interface OperatorProc {
  readonly child: ChildProcess;
  readonly id: string;
  readonly grpcPort: number;
  metricsPort: number;
  log: string[];
}

interface DistStatus {
  connected: boolean;
  epoch: string;
  revision: number;
  synced: boolean;
  resyncs: number;
}

describe('policy distribution (operators, shims, kernels)', { skip }, () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let dir: string;
  let ca: CertificateAuthority;
  const ops: OperatorProc[] = [];
  let nodeA: NodeFixture;
  let nodeB: NodeFixture;
  let web: TestPod;
  let cli: TestPod;
  let other: TestPod;
  let db: TestPod;
  const agents = new Map<string, ProbeAgent>();
  const ports: number[] = [];

  const startOperator = async (id: string, grpcPort: number): Promise<OperatorProc> => {
    const child = spawn(
      process.execPath,
      [
        OPERATOR_MAIN,
        '--kubeconfig',
        cp.kubeconfigPath,
        '--namespace',
        OPERATOR_NS,
        '--id',
        id,
        '--metrics-addr',
        '127.0.0.1:0',
        '--grpc-addr',
        `${UNDERLAY}.1:${grpcPort}`,
        '--grpc-name',
        `${UNDERLAY}.1`,
        '--retry-period',
        '250ms',
        '--renew-deadline',
        '2s',
        '--lease-duration',
        '3s',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const p: OperatorProc = { child, id, grpcPort, metricsPort: 0, log: [] };
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
      p.log.push(l);
      const m = /"metricsPort":(\d+)/.exec(l);
      if (m) p.metricsPort = Number(m[1]);
    });
    ops.push(p);
    await until(() => p.metricsPort > 0, 20_000, `operator ${id} started`);
    return p;
  };

  /** The running replica that holds the lease (the newest process with that name). */
  const currentLeader = async (): Promise<OperatorProc> => {
    const lease = await client.get<Lease>(Resources.leases, 'palisade-operator', OPERATOR_NS);
    const id = lease?.spec?.holderIdentity;
    const p = [...ops].reverse().find((o) => o.id === id);
    assert.ok(p, `no running replica holds the lease (holder: ${id ?? 'none'})`);
    return p;
  };
  const status = async (node: NodeFixture): Promise<DistStatus> =>
    ((await node.api('GET', '/v1/status')) as { distribution: DistStatus }).distribution;
  const policyEntries = async (node: NodeFixture): Promise<number> =>
    ((await node.api('GET', '/v1/status')) as { maps: Record<string, { entries: number }> }).maps
      .pal_policy?.entries ?? -1;
  const agent = (p: TestPod): ProbeAgent => agents.get(p.name) as ProbeAgent;
  const reach = async (from: TestPod, to: TestPod, proto: 'tcp' | 'udp', port: number) =>
    (await agent(from).probe(proto, to.ipv4, port, { timeoutMs: 400 })).ok;

  const createPod = async (node: NodeFixture, p: TestPod): Promise<void> => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: p.namespace, name: p.name, labels: p.labels },
      spec: { nodeName: node.name, containers: [{ name: 'c', image: 'none' }] },
    };
    await client.create(Resources.pods, obj);
    await client.mergePatch(
      Resources.pods,
      p.name,
      p.namespace,
      {
        status: {
          phase: 'Running',
          podIP: p.ipv4,
          podIPs: [{ ip: p.ipv4 }, { ip: p.ipv6 }],
        },
      },
      'status',
    );
  };

  before(async () => {
    dir = mkdtempSync('/dev/shm/palisade-dist-');
    cp = await startControlPlane();
    await cp.applyCrds();
    client = adminClient(cp);
    await ensureNamespace(client, OPERATOR_NS);
    await ensureNamespace(client, NS);
    ip('link', 'add', BRIDGE, 'type', 'bridge');
    ip('addr', 'add', `${UNDERLAY}.1/24`, 'dev', BRIDGE);
    ip('link', 'set', BRIDGE, 'up');
    ports.push(await freePort(), await freePort());
    await startOperator('op-1', ports[0] as number);
    await until(
      async () => {
        try {
          await client.get(Resources.secrets, 'palisade-ca', OPERATOR_NS);
          return true;
        } catch {
          return false;
        }
      },
      20_000,
      'the CA Secret',
    );
    await startOperator('op-2', ports[1] as number);
    const secret = (await client.get(
      Resources.secrets,
      'palisade-ca',
      OPERATOR_NS,
    )) as KubeObject & {
      data: Record<string, string>;
    };
    ca = await caFromPem(
      Buffer.from(secret.data['ca.crt'] as string, 'base64').toString(),
      Buffer.from(secret.data['ca.key'] as string, 'base64').toString(),
    );
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const target = `ipv4:${UNDERLAY}.1:${ports[0]},${UNDERLAY}.1:${ports[1]}`;

    nodeA = NodeFixture.create('da');
    nodeB = NodeFixture.create('db');
    plugIntoUnderlay(nodeA, 10);
    plugIntoUnderlay(nodeB, 11);
    // Node A: certificate files signed by the cluster CA.
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const certA = await issueNodeCertificate(
      ca,
      nodeA.name,
      keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    writeFileSync(join(dir, 'a.crt'), certA.certPem);
    writeFileSync(join(dir, 'a.key'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    // Node B: a token bound to a shim pod scheduled to it (what a DaemonSet pod has).
    await client.create(Resources.serviceAccounts, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'palisade-shim', namespace: OPERATOR_NS },
    });
    const shimPod = (await client.create(Resources.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `shim-${nodeB.name}`, namespace: OPERATOR_NS },
      spec: {
        nodeName: nodeB.name,
        serviceAccountName: 'palisade-shim',
        containers: [{ name: 'shim', image: 'none' }],
      },
    })) as KubeObject;
    const tr = await client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${OPERATOR_NS}/serviceaccounts/palisade-shim/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            expirationSeconds: 3600,
            boundObjectRef: {
              apiVersion: 'v1',
              kind: 'Pod',
              name: shimPod.metadata.name,
              uid: shimPod.metadata.uid,
            },
          },
        },
      },
    );
    writeFileSync(join(dir, 'b.token'), tr.status.token);

    await nodeA.startShim([], {
      operator: [
        '--operator',
        target,
        '--ca-file',
        caFile,
        '--cert-file',
        join(dir, 'a.crt'),
        '--key-file',
        join(dir, 'a.key'),
      ],
    });
    await nodeB.startShim([], {
      operator: ['--operator', target, '--ca-file', caFile, '--token-file', join(dir, 'b.token')],
    });
    for (const n of [nodeA, nodeB])
      await until(async () => (await status(n)).synced, 30_000, `${n.name} synced`).catch(
        (err: unknown) => {
          throw new Error(
            `${String(err)}\nshim log:\n${n.log.slice(-3000)}\noperator logs:\n${ops
              .map((o) => o.log.slice(-15).join('\n'))
              .join('\n---\n')}`,
          );
        },
      );

    web = nodeA.addPod(NS, 'web', { app: 'web' });
    cli = nodeA.addPod(NS, 'cli', { app: 'cli' });
    other = nodeA.addPod(NS, 'other', { app: 'other' });
    db = nodeB.addPod(NS, 'db', { app: 'db' });
    for (const p of [web, cli, other]) await createPod(nodeA, p);
    await createPod(nodeB, db);
    for (const p of [web, cli, other, db]) {
      const a = await ProbeAgent.start(p.netns, defaultAgentPath());
      agents.set(p.name, a);
    }
    await agent(web).serve('tcp', 80);
    await agent(web).serve('udp', 5353);
    // Endpoints become ready once the operator's state names them.
    await until(() => reach(cli, web, 'tcp', 80), 20_000, 'cli reaches web');
    await until(() => reach(other, web, 'tcp', 80), 20_000, 'other reaches web');
  });

  after(async () => {
    for (const a of agents.values()) await a.close().catch(() => undefined);
    await nodeA?.close();
    await nodeB?.close();
    for (const p of ops) p.child.kill('SIGKILL');
    try {
      ip('link', 'del', BRIDGE);
    } catch {
      // not created
    }
    client?.close();
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a policy reaches the kernel of exactly the node whose pods it selects', async () => {
    const before = { a: await status(nodeA), b: await status(nodeB) };
    const entriesB = await policyEntries(nodeB);
    const r = await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { namespace: NS, name: 'web-from-cli' },
        spec: {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [{ from: [{ podSelector: { matchLabels: { app: 'cli' } } }] }],
        },
      }),
    });
    assert.equal(r.code, 0, r.stderr);
    await until(async () => !(await reach(other, web, 'tcp', 80)), 10_000, 'other is cut off');
    assert.equal(await reach(cli, web, 'tcp', 80), true);
    assert.equal(await reach(cli, web, 'udp', 5353), true);
    const now = { a: await status(nodeA), b: await status(nodeB) };
    assert.ok(now.a.revision > before.a.revision, 'node A got the change');
    assert.equal(now.b.revision, before.b.revision, 'node B got nothing');
    assert.equal(await policyEntries(nodeB), entriesB, 'node B’s policy map is untouched');
  });

  it('reports Enforced with the nodes that need a PalisadeNetworkPolicy', async () => {
    const r = await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'PalisadeNetworkPolicy',
        metadata: { namespace: NS, name: 'db-deny-other' },
        spec: {
          endpointSelector: { matchLabels: { app: 'db' } },
          ingressDeny: [{ from: [{ endpointSelector: { matchLabels: { app: 'other' } } }] }],
        },
      }),
    });
    assert.equal(r.code, 0, r.stderr);
    await until(
      async () => {
        const o = (await client.get(
          Resources.palisadeNetworkPolicies,
          'db-deny-other',
          NS,
        )) as KubeObject & {
          status?: {
            nodesRealized?: number;
            nodesDesired?: number;
            conditions?: { type: string; status: string }[];
          };
        };
        const c = o.status?.conditions?.find((x) => x.type === 'Enforced');
        return o.status?.nodesRealized === 1 && o.status.nodesDesired === 1 && c?.status === 'True';
      },
      15_000,
      'Enforced=True with 1/1 nodes',
    );
    const get = await cp.kubectl(['get', 'pnp', '-n', NS, 'db-deny-other']);
    assert.match(get.stdout, /db-deny-other\s+True\s+True\s+1\s+1/);
  });

  it('keeps enforcing with the leader killed, and resyncs to the new leader without a wrong verdict', async () => {
    const leader = await currentLeader();
    const leaderId = leader.id;
    const epoch = (await status(nodeA)).epoch;
    const allowed = agent(cli).stream('udp', web.ipv4, 5353, {
      count: 2500,
      intervalUs: 2000,
      timeoutMs: 1000,
    });
    const denied = agent(other).stream('udp', web.ipv4, 5353, {
      count: 2500,
      intervalUs: 2000,
      timeoutMs: 1000,
    });
    await new Promise((r) => setTimeout(r, 300));
    leader.child.kill('SIGKILL');
    const [ok, no] = await Promise.all([
      allowed,
      denied,
      until(
        async () => {
          const [a, b] = [await status(nodeA), await status(nodeB)];
          return a.synced && b.synced && a.epoch !== epoch && b.epoch !== epoch;
        },
        20_000,
        'both shims synced with the new leader',
      ),
    ]);
    assert.equal(ok.received, ok.sent, `allowed stream lost nothing: ${JSON.stringify(ok)}`);
    assert.equal(no.received, 0, `denied stream got nothing through: ${JSON.stringify(no)}`);
    // The new leader drives the kernels: removing the policy opens the path again.
    const d = await cp.kubectl(['delete', 'networkpolicy', '-n', NS, 'web-from-cli']);
    assert.equal(d.code, 0, d.stderr);
    await until(() => reach(other, web, 'tcp', 80), 15_000, 'other reaches web again');
    // The killed replica comes back as the standby.
    await startOperator(leaderId, leader.grpcPort);
  });

  it('refuses clients with no certificate, an expired one, or another node’s name', async () => {
    const leader = await currentLeader();
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const key = Buffer.from(keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const cert = (pem: string): grpc.ChannelCredentials =>
      grpc.credentials.createSsl(Buffer.from(ca.certPem), key, Buffer.from(pem));
    const now = Date.now();
    const valid = await issueNodeCertificate(ca, nodeB.name, pub);
    const expired = await issueNodeCertificate(ca, nodeB.name, pub, {
      notBefore: now - 3 * 3600_000,
      validityMs: 3600_000,
    });
    const subscribe = (creds: grpc.ChannelCredentials, node: string): Promise<grpc.status> => {
      const c = new (distributionRawClient())(
        `${UNDERLAY}.1:${leader.grpcPort}`,
        creds,
      ) as unknown as grpc.Client & {
        Subscribe(): grpc.ClientDuplexStream<object, Buffer>;
      };
      return new Promise<grpc.status>((resolve) => {
        const call = c.Subscribe();
        call.on('data', () => {
          resolve(grpc.status.OK);
          call.cancel();
        });
        call.on('error', (e: grpc.ServiceError) => {
          resolve(e.code);
          c.close();
        });
        call.write({ hello: { node, epoch: '', revision: 0, capabilities: [] } });
      });
    };
    assert.equal(
      await subscribe(grpc.credentials.createSsl(Buffer.from(ca.certPem)), nodeB.name),
      grpc.status.UNAUTHENTICATED,
      'no certificate',
    );
    assert.equal(
      await subscribe(cert(expired.certPem), nodeB.name),
      grpc.status.UNAUTHENTICATED,
      'expired',
    );
    const foreign = await issueNodeCertificate(await generateCa(), nodeB.name, pub);
    assert.equal(
      await subscribe(cert(foreign.certPem), nodeB.name),
      grpc.status.UNAUTHENTICATED,
      'signed by another CA',
    );
    assert.equal(
      await subscribe(cert(valid.certPem), nodeA.name),
      grpc.status.PERMISSION_DENIED,
      'another node',
    );
    const metrics = await (await fetch(`http://127.0.0.1:${leader.metricsPort}/metrics`)).text();
    const refused = metrics
      .split('\n')
      .filter((l) => l.startsWith('palisade_distribution_refused_total'));
    // TLS verifies the chain and the dates: none and expired both arrive as no valid certificate.
    for (const reason of ['no-valid-certificate', 'wrong-node'])
      assert.match(
        refused.join('\n'),
        new RegExp(`palisade_distribution_refused_total\\{reason="${reason}"\\} [1-9]`),
      );
    assert.match(
      refused.join('\n'),
      /palisade_distribution_refused_total\{reason="no-valid-certificate"\} ([3-9]|\d\d)/,
    );
  });
});
