/**
 * The operator's PKI on a real kube-apiserver: the CA made once in its Secret and published
 * in a ConfigMap (also when replicas race), and node certificates issued against real bound
 * service-account tokens from the TokenRequest API, checked with real TokenReviews.
 */
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import {
  authenticateBearer,
  BootstrapError,
  CA_CERT_KEY,
  CA_KEY_KEY,
  CA_OBJECT_NAME,
  CertificateIssuer,
  checkPeer,
  jsonLogger,
  loadOrCreateCa,
  Resources,
  reviewToken,
  type CertificateAuthority,
  type KubeClient,
  type KubeObject,
} from '@palisade/operator';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { adminClient, deletePod, ensureNamespace, OPERATOR_NS } from '../operator/testCluster.js';

const SHIM_SA = 'palisade-shim';

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}
interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

async function createServiceAccount(client: KubeClient, ns: string, name: string): Promise<void> {
  await client.create(Resources.serviceAccounts, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace: ns },
  });
}

/** A Pod as a DaemonSet would make it: scheduled to `node`, running as `serviceAccount`. */
async function createPod(
  client: KubeClient,
  ns: string,
  name: string,
  node: string,
  serviceAccount: string,
): Promise<{ name: string; uid: string }> {
  const pod = await client.create<KubeObject>(Resources.pods, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      nodeName: node,
      serviceAccountName: serviceAccount,
      containers: [{ name: 'shim', image: 'registry.invalid/shim' }],
    },
  });
  return { name, uid: pod.metadata.uid ?? '' };
}

/** A token from the TokenRequest API, bound to `pod` when given (what a projected volume holds). */
async function requestToken(
  client: KubeClient,
  ns: string,
  serviceAccount: string,
  opts: { pod?: { name: string; uid: string }; audiences?: string[] } = {},
): Promise<string> {
  const res = await client.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${ns}/serviceaccounts/${serviceAccount}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          expirationSeconds: 600,
          ...(opts.audiences ? { audiences: opts.audiences } : {}),
          ...(opts.pod ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', ...opts.pod } } : {}),
        },
      },
    },
  );
  return res.status.token;
}

function publicKeyPem(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

async function refusedWith(
  p: Promise<unknown>,
  code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'PKI',
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BootstrapError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('pki on a real apiserver', () => {
  let cp: ControlPlane;
  let client: KubeClient;

  before(async () => {
    cp = await startControlPlane();
    client = adminClient(cp);
    await ensureNamespace(client, OPERATOR_NS);
  });

  after(async () => {
    client?.close();
    await cp?.stop();
  });

  it('loadOrCreateCa makes the Secret and the ConfigMap once, and repairs the ConfigMap', async () => {
    const ca = await loadOrCreateCa(client, OPERATOR_NS);
    const secret = await client.get<SecretObject>(Resources.secrets, CA_OBJECT_NAME, OPERATOR_NS);
    assert.ok(secret?.data);
    assert.equal(Buffer.from(secret.data[CA_CERT_KEY] ?? '', 'base64').toString(), ca.certPem);
    assert.match(Buffer.from(secret.data[CA_KEY_KEY] ?? '', 'base64').toString(), /PRIVATE KEY/);
    const cm = await client.get<ConfigMapObject>(Resources.configMaps, CA_OBJECT_NAME, OPERATOR_NS);
    assert.equal(cm?.data?.[CA_CERT_KEY], ca.certPem);
    assert.equal(cm?.data?.[CA_KEY_KEY], undefined, 'the key never goes into the ConfigMap');

    const again = await loadOrCreateCa(client, OPERATOR_NS);
    assert.equal(again.certPem, ca.certPem);
    assert.equal(again.keyPem, ca.keyPem);

    // A stale published certificate is put right.
    await client.mergePatch(Resources.configMaps, CA_OBJECT_NAME, OPERATOR_NS, {
      data: { [CA_CERT_KEY]: 'stale' },
    });
    await loadOrCreateCa(client, OPERATOR_NS);
    const fixed = await client.get<ConfigMapObject>(
      Resources.configMaps,
      CA_OBJECT_NAME,
      OPERATOR_NS,
    );
    assert.equal(fixed?.data?.[CA_CERT_KEY], ca.certPem);
  });

  it('replicas starting together end up with one CA', async () => {
    const ns = 'ca-race';
    await ensureNamespace(client, ns);
    const clients = Array.from({ length: 4 }, () => adminClient(cp));
    const lines: string[] = [];
    const logger = jsonLogger('ca', { level: 'debug', write: (l) => lines.push(l) });
    try {
      const cas = await Promise.all(clients.map((c) => loadOrCreateCa(c, ns, { logger })));
      assert.equal(lines.filter((l) => l.includes('"created the CA"')).length, 1, lines.join(''));
      const certs = new Set(cas.map((c) => c.certPem));
      assert.equal(certs.size, 1, 'every replica got the same CA');
      const secret = await client.get<SecretObject>(Resources.secrets, CA_OBJECT_NAME, ns);
      assert.equal(
        Buffer.from(secret?.data?.[CA_CERT_KEY] ?? '', 'base64').toString(),
        cas[0]?.certPem,
      );
      const cm = await client.get<ConfigMapObject>(Resources.configMaps, CA_OBJECT_NAME, ns);
      assert.equal(cm?.data?.[CA_CERT_KEY], cas[0]?.certPem);
    } finally {
      for (const c of clients) c.close();
    }
  });

  describe('CertificateIssuer with bound service-account tokens', () => {
    let ca: CertificateAuthority;
    let issuer: CertificateIssuer;
    let shimPod: { name: string; uid: string };
    let shimToken: string;

    before(async () => {
      ca = await loadOrCreateCa(client, OPERATOR_NS);
      issuer = new CertificateIssuer({ client, ca, namespace: OPERATOR_NS });
      await createServiceAccount(client, OPERATOR_NS, SHIM_SA);
      await createServiceAccount(client, OPERATOR_NS, 'other');
      shimPod = await createPod(client, OPERATOR_NS, 'shim-a', 'node-a', SHIM_SA);
      shimToken = await requestToken(client, OPERATOR_NS, SHIM_SA, { pod: shimPod });
    });

    it('the apiserver binds the token to the pod (TokenReview extra)', async () => {
      const review = await reviewToken(client, shimToken);
      assert.ok(review.authenticated, !review.authenticated ? review.error : '');
      assert.equal(review.user.username, `system:serviceaccount:${OPERATOR_NS}:${SHIM_SA}`);
      assert.deepEqual(review.user.extra['authentication.kubernetes.io/pod-name'], ['shim-a']);
      assert.deepEqual(review.user.extra['authentication.kubernetes.io/pod-uid'], [shimPod.uid]);
    });

    it("issues a certificate for the pod's node", async () => {
      const res = await issuer.issue({
        node: 'node-a',
        token: shimToken,
        publicKeyPem: publicKeyPem(),
      });
      assert.equal(res.caPem, ca.certPem);
      const cert = new X509Certificate(res.certificatePem);
      assert.match(cert.subject, /CN=node-a/);
      assert.equal(res.notAfterUnixMs, Date.parse(cert.validTo));
      const peer = { raw: cert.raw } as PeerCertificate;
      assert.deepEqual(checkPeer(ca, peer, Date.now()), { ok: true, node: 'node-a' });
    });

    it("refuses another node's name", async () => {
      await refusedWith(
        issuer.issue({ node: 'node-b', token: shimToken, publicKeyPem: publicKeyPem() }),
        'PERMISSION_DENIED',
        /runs on node node-a, not node-b/,
      );
    });

    it('refuses a token of another service account', async () => {
      const pod = await createPod(client, OPERATOR_NS, 'other-a', 'node-a', 'other');
      const token = await requestToken(client, OPERATOR_NS, 'other', { pod });
      await refusedWith(
        issuer.issue({ node: 'node-a', token, publicKeyPem: publicKeyPem() }),
        'PERMISSION_DENIED',
        /belongs to system:serviceaccount:palisade-system:other/,
      );
    });

    it('the apiserver will not bind a shim token to a pod of another service account', async () => {
      // So the issuer's own check of the Pod's ServiceAccount (unit-tested) is a second line.
      const pod = await createPod(client, OPERATOR_NS, 'impostor', 'node-a', 'other');
      await assert.rejects(
        requestToken(client, OPERATOR_NS, SHIM_SA, { pod }),
        /different serviceaccount/,
      );
    });

    it('refuses a garbage token and a token bound to no pod', async () => {
      await refusedWith(
        issuer.issue({ node: 'node-a', token: 'garbage', publicKeyPem: publicKeyPem() }),
        'UNAUTHENTICATED',
        /not accepted/,
      );
      const unbound = await requestToken(client, OPERATOR_NS, SHIM_SA);
      await refusedWith(
        issuer.issue({ node: 'node-a', token: unbound, publicKeyPem: publicKeyPem() }),
        'UNAUTHENTICATED',
        /not bound to a Pod/,
      );
    });

    it('refuses bad input', async () => {
      await refusedWith(
        issuer.issue({ node: 'Node A', token: shimToken, publicKeyPem: publicKeyPem() }),
        'PKI',
        /DNS-1123/,
      );
      await refusedWith(
        issuer.issue({ node: 'node-a', token: shimToken, publicKeyPem: 'nope' }),
        'PKI',
        /public key refused/,
      );
    });

    it('requires the audience when configured', async () => {
      const strict = new CertificateIssuer({
        client,
        ca,
        namespace: OPERATOR_NS,
        audiences: ['palisade'],
      });
      await refusedWith(
        strict.issue({ node: 'node-a', token: shimToken, publicKeyPem: publicKeyPem() }),
        'UNAUTHENTICATED',
        /not accepted/,
      );
      const token = await requestToken(client, OPERATOR_NS, SHIM_SA, {
        pod: shimPod,
        audiences: ['palisade'],
      });
      const res = await strict.issue({ node: 'node-a', token, publicKeyPem: publicKeyPem() });
      assert.match(new X509Certificate(res.certificatePem).subject, /CN=node-a/);
    });

    it('refuses the token once its pod is gone, even if a pod of that name is back', async () => {
      const pod = await createPod(client, OPERATOR_NS, 'shim-gone', 'node-c', SHIM_SA);
      const token = await requestToken(client, OPERATOR_NS, SHIM_SA, { pod });
      await deletePod(client, OPERATOR_NS, 'shim-gone');
      await createPod(client, OPERATOR_NS, 'shim-gone', 'node-c', SHIM_SA);
      await refusedWith(
        issuer.issue({ node: 'node-c', token, publicKeyPem: publicKeyPem() }),
        'UNAUTHENTICATED',
        /not accepted|no longer exists/,
      );
    });
  });

  it('authenticateBearer: TokenReview then SubjectAccessReview', async () => {
    await createServiceAccount(client, OPERATOR_NS, 'reader');
    const token = await requestToken(client, OPERATOR_NS, 'reader');
    const access = { verb: 'list', group: '', resource: 'pods', namespace: OPERATOR_NS };
    const denied = await authenticateBearer(client, token, access);
    assert.equal(denied.ok, false);
    assert.equal(!denied.ok && denied.code, 'PERMISSION_DENIED');
    assert.match(!denied.ok ? denied.message : '', /may not list pods in namespace/);

    await client.request(
      'POST',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${OPERATOR_NS}/roles`,
      {
        body: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'pod-reader', namespace: OPERATOR_NS },
          rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }],
        },
      },
    );
    await client.request(
      'POST',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${OPERATOR_NS}/rolebindings`,
      {
        body: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'reader', namespace: OPERATOR_NS },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: OPERATOR_NS }],
        },
      },
    );
    const allowed = await authenticateBearer(client, token, access);
    assert.ok(allowed.ok, !allowed.ok ? allowed.message : '');
    assert.equal(allowed.user.username, `system:serviceaccount:${OPERATOR_NS}:reader`);

    const garbage = await authenticateBearer(client, 'garbage', access);
    assert.equal(!garbage.ok && garbage.code, 'UNAUTHENTICATED');
  });
});
