import { KubeConfig } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeClient, type RequestOptions } from '../../kube/client.js';
import { authenticateBearer, MAX_TOKEN_LENGTH, reviewToken } from './bearer.js';

const TOKEN = 'bearer-token-value';

/** A KubeClient answering TokenReviews and SubjectAccessReviews from canned statuses. */
class FakeKube extends KubeClient {
  readonly bodies: unknown[] = [];
  constructor(
    private readonly review: Record<string, unknown>,
    private readonly sar: Record<string, unknown>,
  ) {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    super(kc);
  }
  override request<T>(_method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    this.bodies.push(opts.body);
    if (path === '/apis/authentication.k8s.io/v1/tokenreviews')
      return Promise.resolve({ status: this.review } as T);
    if (path === '/apis/authorization.k8s.io/v1/subjectaccessreviews')
      return Promise.resolve({ status: this.sar } as T);
    return Promise.reject(new Error(`unexpected ${path}`));
  }
}

const USER = {
  username: 'alice',
  uid: 'u-1',
  groups: ['devs'],
  extra: { scope: ['x'] },
};
const ACCESS = { verb: 'get', group: 'palisade.dev', resource: 'securityidentities' };

describe('pki: bearer authentication', () => {
  it('allows an authenticated user the SubjectAccessReview allows', async () => {
    const kube = new FakeKube({ authenticated: true, user: USER }, { allowed: true });
    const r = await authenticateBearer(kube, TOKEN, { ...ACCESS, namespace: 'ns' });
    assert.deepEqual(r, { ok: true, user: USER });
    assert.deepEqual(kube.bodies[1], {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: 'alice',
        uid: 'u-1',
        groups: ['devs'],
        extra: { scope: ['x'] },
        resourceAttributes: { ...ACCESS, namespace: 'ns' },
      },
    });
  });

  it('refuses unauthenticated tokens without asking for access', async () => {
    const kube = new FakeKube({ authenticated: false, error: `bad ${TOKEN}` }, { allowed: true });
    const r = await authenticateBearer(kube, TOKEN, ACCESS);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.code === 'UNAUTHENTICATED' && !r.message.includes(TOKEN));
    assert.equal(kube.bodies.length, 1);
    assert.deepEqual(await reviewToken(kube, ''), { authenticated: false, error: 'no token' });
    const long = await reviewToken(kube, 'x'.repeat(MAX_TOKEN_LENGTH + 1));
    assert.equal(long.authenticated, false);
    assert.equal(kube.bodies.length, 1, 'empty and overlong tokens are not sent');
  });

  it('refuses what the SubjectAccessReview does not allow, with its reason', async () => {
    const kube = new FakeKube(
      { authenticated: true, user: USER },
      { allowed: false, reason: 'no RBAC policy matched' },
    );
    const r = await authenticateBearer(kube, TOKEN, ACCESS);
    assert.deepEqual(r, {
      ok: false,
      code: 'PERMISSION_DENIED',
      message: 'alice may not get securityidentities.palisade.dev: no RBAC policy matched',
    });
  });
});
