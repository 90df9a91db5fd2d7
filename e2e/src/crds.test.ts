/**
 * The generated CRDs against a real kube-apiserver: they are accepted, valid objects are
 * stored, and the schema and CEL rules refuse invalid ones with a message naming the field.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from './harness/controlPlane.js';
import { REPO_ROOT } from './harness/binaries.js';

const NS = 'crd-test';
const API = 'palisade.dev/v1alpha1';

function pnp(name: string, spec: object): string {
  return JSON.stringify({
    apiVersion: API,
    kind: 'PalisadeNetworkPolicy',
    metadata: { name, namespace: NS },
    spec,
  });
}

function identity(name: string, id: number, labels: Record<string, string> = { app: 'web' }) {
  return JSON.stringify({
    apiVersion: API,
    kind: 'SecurityIdentity',
    metadata: { name },
    spec: {
      id,
      key: `ns:${NS};sa:default;app=${labels['app'] ?? ''}`,
      namespace: NS,
      serviceAccount: 'default',
      podLabels: labels,
      namespaceLabels: { 'kubernetes.io/metadata.name': NS },
      namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  });
}

describe('CRDs on kube-apiserver', () => {
  let cp: ControlPlane;

  before(async () => {
    cp = await startControlPlane();
    await cp.applyCrds();
    await cp.kubectlOk(['create', 'namespace', NS]);
  });
  after(() => cp?.stop());

  /** `kubectl apply -f -` that must fail; returns stderr. */
  async function refused(manifest: string): Promise<string> {
    const r = await cp.kubectl(['apply', '-f', '-'], { input: manifest });
    assert.notEqual(r.code, 0, `expected a refusal, got: ${r.stdout}`);
    return r.stderr;
  }

  it('applies every CRD in crds/ and each becomes Established', async () => {
    const files = readdirSync(join(REPO_ROOT, 'crds')).filter((f) => f.endsWith('.yaml'));
    assert.equal(files.length, 3);
    const names = files.map((f) => f.replace(/^palisade\.dev_(.*)\.yaml$/, '$1.palisade.dev'));
    for (const name of names) {
      const est = await cp.kubectlOk([
        'get',
        'crd',
        name,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Established")].status}',
      ]);
      assert.equal(est, 'True', name);
    }
    // Applying again changes nothing and still succeeds.
    await cp.applyCrds();
  });

  it('accepts a valid PalisadeNetworkPolicy, PalisadeClusterNetworkPolicy and SecurityIdentity', async () => {
    await cp.kubectlOk(['apply', '-f', '-'], {
      input: pnp('web', {
        endpointSelector: { matchLabels: { app: 'web' } },
        ingress: [
          {
            from: [
              { endpointSelector: { matchLabels: { app: 'client' } } },
              { cidrSet: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.0.0/16'] } },
              { cidr: 'fd00::/64' },
              { entity: 'kube-apiserver' },
            ],
            ports: [{ port: 80 }, { port: 'http', protocol: 'TCP' }, { port: 8000, endPort: 8100 }],
            http: [{ method: 'GET', path: '/api/.*', headers: [{ name: 'x-team' }] }],
          },
        ],
        egressDeny: [{ to: [{ entity: 'world' }], ports: [{ protocol: 'ICMP', icmpType: 8 }] }],
      }),
    });
    await cp.kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: API,
        kind: 'PalisadeClusterNetworkPolicy',
        metadata: { name: 'deny-storage' },
        spec: {
          endpointSelector: {},
          namespaceSelector: {
            matchExpressions: [{ key: 'tier', operator: 'In', values: ['shop'] }],
          },
          ingressDeny: [{ from: [{ namespaceSelector: { matchLabels: { tier: 'storage' } } }] }],
        },
      }),
    });
    await cp.kubectlOk(['apply', '-f', '-'], { input: identity('sid-web', 256) });
    const stored = await cp.kubectlOk(['get', 'sid', 'sid-web', '-o', 'jsonpath={.spec.id}']);
    assert.equal(stored, '256');
    const port = await cp.kubectlOk([
      'get',
      'pnp',
      'web',
      '-n',
      NS,
      '-o',
      'jsonpath={.spec.ingress[0].ports[1].port}',
    ]);
    assert.equal(port, 'http');
  });

  it('accepts every Palisade policy in examples/', async () => {
    const dir = join(REPO_ROOT, 'examples');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
      /\.ya?ml$/.test(f),
    );
    let n = 0;
    for (const f of files) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
        const obj = doc.toJS() as { apiVersion?: string; metadata?: { namespace?: string } } | null;
        if (!obj?.apiVersion?.startsWith('palisade.dev/')) continue;
        const ns = obj.metadata?.namespace;
        if (ns !== undefined) await cp.kubectl(['create', 'namespace', ns]);
        await cp.kubectlOk(['apply', '--dry-run=server', '-f', '-'], {
          input: JSON.stringify(obj),
        });
        n++;
      }
    }
    assert.ok(n > 0, 'no Palisade policy found in examples/');
  });

  it('refuses a malformed CIDR (CEL isCIDR) naming the field', async () => {
    const err = await refused(
      pnp('bad-cidr', { endpointSelector: {}, ingress: [{ from: [{ cidr: '10.0.0.300/8' }] }] }),
    );
    assert.match(err, /spec\.ingress\[0\]\.from\[0\]\.cidr/);
    assert.match(err, /must be a CIDR/);
  });

  it('refuses a malformed except prefix (CEL isCIDR) naming the field', async () => {
    const err = await refused(
      pnp('bad-except', {
        endpointSelector: {},
        egress: [{ to: [{ cidrSet: { cidr: '10.0.0.0/8', except: ['nope'] } }] }],
      }),
    );
    assert.match(err, /spec\.egress\[0\]\.to\[0\]\.cidrSet\.except\[0\]/);
    assert.match(err, /must be a CIDR/);
  });

  it('refuses an except prefix outside its cidr (CEL containsCIDR) naming the field', async () => {
    const err = await refused(
      pnp('bad-except', {
        endpointSelector: {},
        egress: [{ to: [{ cidrSet: { cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] } }] }],
      }),
    );
    assert.match(err, /spec\.egress\[0\]\.to\[0\]\.cidrSet/);
    assert.match(err, /every except prefix must lie inside cidr/);
  });

  it('refuses ports out of range (schema for endPort, CEL for int-or-string port)', async () => {
    const end = await refused(
      pnp('bad-endport', {
        endpointSelector: {},
        ingress: [{ ports: [{ port: 80, endPort: 70000 }] }],
      }),
    );
    assert.match(end, /spec\.ingress\[0\]\.ports\[0\]\.endPort/);
    assert.match(end, /65535/);
    const port = await refused(
      pnp('bad-port', { endpointSelector: {}, ingress: [{ ports: [{ port: 70000 }] }] }),
    );
    assert.match(port, /spec\.ingress\[0\]\.ports\[0\]/);
    assert.match(port, /port must be between 1 and 65535/);
    const long = await refused(
      pnp('bad-name', {
        endpointSelector: {},
        ingress: [{ ports: [{ port: 'a-very-long-port-name' }] }],
      }),
    );
    assert.match(long, /spec\.ingress\[0\]\.ports\[0\]\.port/);
  });

  it('refuses an unknown protocol (schema enum) naming the field', async () => {
    const err = await refused(
      pnp('bad-proto', {
        endpointSelector: {},
        ingress: [{ ports: [{ port: 80, protocol: 'QUIC' }] }],
      }),
    );
    assert.match(err, /spec\.ingress\[0\]\.ports\[0\]\.protocol/);
    assert.match(err, /Unsupported value: "QUIC"/);
  });

  it('refuses a peer naming two kinds of selector (CEL)', async () => {
    const err = await refused(
      pnp('bad-peer', {
        endpointSelector: {},
        ingress: [{ from: [{ cidr: '10.0.0.0/8', entity: 'world' }] }],
      }),
    );
    assert.match(err, /spec\.ingress\[0\]\.from\[0\]/);
    assert.match(err, /exactly one kind of selector/);
  });

  it('refuses lists beyond their limit (maxItems)', async () => {
    const except = Array.from({ length: 33 }, (_, i) => `10.${i}.0.0/16`);
    const err = await refused(
      pnp('too-many', {
        endpointSelector: {},
        egress: [{ to: [{ cidrSet: { cidr: '10.0.0.0/8', except } }] }],
      }),
    );
    assert.match(err, /spec\.egress\[0\]\.to\[0\]\.cidrSet\.except/);
    assert.match(err, /must have at most 32 items/);
  });

  it('keeps a SecurityIdentity immutable and its id in range', async () => {
    const changed = await refused(identity('sid-web', 257));
    assert.match(changed, /spec\.id/);
    assert.match(changed, /id is immutable/);
    const relabelled = await refused(identity('sid-web', 256, { app: 'other' }));
    assert.match(relabelled, /spec is immutable/);
    const reserved = await refused(identity('sid-reserved', 255));
    assert.match(reserved, /spec\.id/);
    assert.match(reserved, /greater than or equal to 256/);
    const missing = await refused(
      JSON.stringify({
        apiVersion: API,
        kind: 'SecurityIdentity',
        metadata: { name: 'x' },
        spec: { id: 300 },
      }),
    );
    assert.match(missing, /spec\.key: Required value/);
    // Metadata stays writable: the operator marks unused identities with an annotation.
    await cp.kubectlOk([
      'annotate',
      'sid',
      'sid-web',
      'palisade.dev/unused-since=2026-01-01T00:00:00Z',
    ]);
  });

  it('shows the printer columns', async () => {
    await cp.kubectlOk([
      'patch',
      'pnp',
      'web',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          observedGeneration: 1,
          nodesRealized: 2,
          nodesDesired: 3,
          conditions: [
            {
              type: 'Valid',
              status: 'True',
              reason: 'Compiled',
              message: 'ok',
              lastTransitionTime: '2026-01-01T00:00:00Z',
            },
            {
              type: 'Enforced',
              status: 'False',
              reason: 'Propagating',
              message: '2/3',
              lastTransitionTime: '2026-01-01T00:00:00Z',
            },
          ],
        },
      }),
    ]);
    const table = (await cp.kubectlOk(['get', 'pnp', '-n', NS])).trim().split('\n');
    assert.deepEqual(table[0]?.split(/\s+/), [
      'NAME',
      'VALID',
      'ENFORCED',
      'REALIZED',
      'DESIRED',
      'REASON',
      'AGE',
    ]);
    assert.deepEqual(table[1]?.split(/\s+/).slice(0, 6), [
      'web',
      'True',
      'False',
      '2',
      '3',
      'Compiled',
    ]);
    const cluster = (await cp.kubectlOk(['get', 'pcnp'])).split('\n')[0]?.split(/\s+/);
    assert.deepEqual(cluster, [
      'NAME',
      'VALID',
      'ENFORCED',
      'REALIZED',
      'DESIRED',
      'REASON',
      'AGE',
    ]);
    const sid = (await cp.kubectlOk(['get', 'sid'])).trim().split('\n');
    assert.deepEqual(sid[0]?.split(/\s+/), [
      'NAME',
      'ID',
      'NAMESPACE',
      'SERVICEACCOUNT',
      'UNUSED-SINCE',
      'AGE',
    ]);
    assert.deepEqual(sid[1]?.split(/\s+/).slice(0, 5), [
      'sid-web',
      '256',
      NS,
      'default',
      '2026-01-01T00:00:00Z',
    ]);
    const all = await cp.kubectlOk(['get', 'palisade', '-A', '-o', 'name']);
    assert.match(all, /palisadenetworkpolicy\.palisade\.dev\/web/);
    assert.match(all, /securityidentity\.palisade\.dev\/sid-web/);
  });
});
