import { status as GrpcStatus } from '@grpc/grpc-js';
import { KubeConfig } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { KubeClient, type RequestOptions } from '../../kube/client.js';
import { KubeApiError } from '../../kube/kubeApiError.js';
import { jsonLogger } from '../../log.js';
import { BootstrapError, CertificateIssuer } from './bootstrap.js';
import { generateCa, type CertificateAuthority } from './ca.js';
import { checkPeer } from './peer.js';

const NS = 'palisade-system';
const TOKEN = 'secret-token-value-that-must-never-be-printed';
const SHIM = `system:serviceaccount:${NS}:palisade-shim`;

/** What the fake apiserver knows. */
interface World {
  review: Record<string, unknown>;
  pod: Record<string, unknown> | 'missing' | 'fail';
  reviewFails?: boolean;
}

/** A KubeClient whose requests are answered from `world`; records every request. */
class FakeKube extends KubeClient {
  readonly calls: { method: string; path: string; body: unknown }[] = [];
  constructor(private readonly world: World) {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    super(kc);
  }
  override request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    this.calls.push({ method, path, body: opts.body });
    if (path === '/apis/authentication.k8s.io/v1/tokenreviews') {
      if (this.world.reviewFails)
        return Promise.reject(
          new KubeApiError(0, 'ConnectionFailed', `${method} ${path}: refused`),
        );
      return Promise.resolve({ status: this.world.review } as T);
    }
    if (path === `/api/v1/namespaces/${NS}/pods/shim-x`) {
      if (this.world.pod === 'missing')
        return Promise.reject(new KubeApiError(404, 'NotFound', `${method} ${path}: 404`));
      if (this.world.pod === 'fail')
        return Promise.reject(new KubeApiError(503, 'ServiceUnavailable', `${method} ${path}`));
      return Promise.resolve(this.world.pod as T);
    }
    return Promise.reject(new KubeApiError(404, 'NotFound', `${method} ${path}: unexpected`));
  }
}

function goodWorld(): World {
  return {
    review: {
      authenticated: true,
      user: {
        username: SHIM,
        uid: 'sa-uid',
        groups: ['system:serviceaccounts'],
        extra: {
          'authentication.kubernetes.io/pod-name': ['shim-x'],
          'authentication.kubernetes.io/pod-uid': ['pod-uid'],
        },
      },
      audiences: ['https://kubernetes.default.svc.cluster.local'],
    },
    pod: {
      metadata: { name: 'shim-x', namespace: NS, uid: 'pod-uid' },
      spec: { nodeName: 'node-a', serviceAccountName: 'palisade-shim' },
      status: { phase: 'Running' },
    },
  };
}

function publicKeyPem(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

describe('pki: CertificateIssuer (fake apiserver)', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await generateCa();
  });

  function setup(world: World, extra: { audiences?: string[] } = {}) {
    const client = new FakeKube(world);
    const lines: string[] = [];
    const issuer = new CertificateIssuer({
      client,
      ca,
      namespace: NS,
      validityMs: 3600_000,
      logger: jsonLogger('test', { level: 'debug', write: (l) => lines.push(l) }),
      ...extra,
    });
    const issue = (node = 'node-a', token = TOKEN, key = publicKeyPem()) =>
      issuer.issue({ node, token, publicKeyPem: key });
    return { client, lines, issue };
  }

  async function refused(
    p: Promise<unknown>,
    code: GrpcStatus,
    pattern: RegExp,
    lines: string[],
  ): Promise<void> {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof BootstrapError, String(err));
      assert.equal(err.grpcCode, code, `${GrpcStatus[err.grpcCode]}: ${err.message}`);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(TOKEN));
      return true;
    });
    assert.ok(!lines.join('').includes(TOKEN), 'the token is never logged');
  }

  it('issues a certificate for the node of the bound pod', async () => {
    const { client, lines, issue } = setup(goodWorld(), { audiences: ['palisade'] });
    const res = await issue();
    const cert = new X509Certificate(res.certificatePem);
    assert.match(cert.subject, /CN=node-a/);
    assert.equal(res.caPem, ca.certPem);
    assert.equal(res.notAfterUnixMs, Date.parse(cert.validTo));
    assert.deepEqual(checkPeer(ca, { raw: cert.raw } as never, Date.now()), {
      ok: true,
      node: 'node-a',
    });
    assert.deepEqual(client.calls[0]?.body, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: TOKEN, audiences: ['palisade'] },
    });
    assert.ok(!lines.join('').includes(TOKEN));
    assert.match(lines.join(''), /issued a node certificate/);
  });

  it('refuses bad input before asking the apiserver', async () => {
    const { client, lines, issue } = setup(goodWorld());
    await refused(issue('Node_A'), GrpcStatus.INVALID_ARGUMENT, /DNS-1123/, lines);
    await refused(issue('node-a', TOKEN, 'nope'), GrpcStatus.INVALID_ARGUMENT, /PEM/, lines);
    await refused(issue('node-a', ''), GrpcStatus.UNAUTHENTICATED, /no token/, lines);
    assert.equal(client.calls.length, 0);
  });

  it('refuses tokens the apiserver does not accept, or not bound to a live pod', async () => {
    const w = goodWorld();
    w.review = { authenticated: false, error: `invalid bearer token ${TOKEN}` };
    let s = setup(w);
    await refused(s.issue(), GrpcStatus.UNAUTHENTICATED, /not accepted/, s.lines);

    const unbound = goodWorld();
    (unbound.review.user as { extra: object }).extra = {};
    s = setup(unbound);
    await refused(s.issue(), GrpcStatus.UNAUTHENTICATED, /not bound to a Pod/, s.lines);

    const gone = goodWorld();
    gone.pod = 'missing';
    s = setup(gone);
    await refused(s.issue(), GrpcStatus.UNAUTHENTICATED, /no longer exists/, s.lines);

    const replaced = goodWorld();
    (replaced.pod as { metadata: { uid: string } }).metadata.uid = 'another-uid';
    s = setup(replaced);
    await refused(s.issue(), GrpcStatus.UNAUTHENTICATED, /no longer exists/, s.lines);
  });

  it('refuses other service accounts, other nodes, terminated pods', async () => {
    const other = goodWorld();
    (other.review.user as { username: string }).username = `system:serviceaccount:${NS}:default`;
    let s = setup(other);
    await refused(s.issue(), GrpcStatus.PERMISSION_DENIED, /belongs to .*:default, not/, s.lines);

    s = setup(goodWorld());
    await refused(s.issue('node-b'), GrpcStatus.PERMISSION_DENIED, /runs on node node-a/, s.lines);

    const podSa = goodWorld();
    (podSa.pod as { spec: object }).spec = { nodeName: 'node-a' };
    s = setup(podSa);
    await refused(s.issue(), GrpcStatus.PERMISSION_DENIED, /ServiceAccount default/, s.lines);

    const unscheduled = goodWorld();
    (unscheduled.pod as { spec: object }).spec = { serviceAccountName: 'palisade-shim' };
    s = setup(unscheduled);
    await refused(s.issue(), GrpcStatus.PERMISSION_DENIED, /not scheduled/, s.lines);

    const done = goodWorld();
    (done.pod as { status: object }).status = { phase: 'Succeeded' };
    s = setup(done);
    await refused(s.issue(), GrpcStatus.PERMISSION_DENIED, /terminated/, s.lines);

    const nodeInToken = goodWorld();
    (nodeInToken.review.user as { extra: Record<string, string[]> }).extra[
      'authentication.kubernetes.io/node-name'
    ] = ['node-z'];
    s = setup(nodeInToken);
    await refused(s.issue(), GrpcStatus.PERMISSION_DENIED, /runs on node node-z/, s.lines);
  });

  it('answers UNAVAILABLE when the apiserver cannot be asked', async () => {
    const down = goodWorld();
    down.reviewFails = true;
    let s = setup(down);
    await refused(s.issue(), GrpcStatus.UNAVAILABLE, /cannot review the token/, s.lines);
    const podFails = goodWorld();
    podFails.pod = 'fail';
    s = setup(podFails);
    await refused(s.issue(), GrpcStatus.UNAVAILABLE, /cannot read Pod/, s.lines);
  });

  it('a BootstrapError carries an operator code matching its gRPC status', () => {
    assert.equal(new BootstrapError(GrpcStatus.UNAUTHENTICATED, 'x').code, 'UNAUTHENTICATED');
    assert.equal(new BootstrapError(GrpcStatus.PERMISSION_DENIED, 'x').code, 'PERMISSION_DENIED');
    assert.equal(new BootstrapError(GrpcStatus.INVALID_ARGUMENT, 'x').code, 'PKI');
    assert.equal(new BootstrapError(GrpcStatus.UNAVAILABLE, 'x').code, 'KUBE');
  });
});
