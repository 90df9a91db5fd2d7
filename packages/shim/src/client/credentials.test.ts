import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { IssueRequest } from '@palisade/api';
import { ShimError } from '../errors.js';
import { BootstrapCredentials, FileCredentials, type Issuer } from './credentials.js';
import { FakeClock } from './fakeClock.js';
import { makePki, type TestPki } from './testPki.js';

const HOUR = 3_600_000;

async function refused(p: Promise<unknown>, why: RegExp): Promise<void> {
  await assert.rejects(
    p,
    (e: unknown) => e instanceof ShimError && e.code === 'CREDENTIALS' && why.test(e.message),
  );
}

describe('credentials', () => {
  let pki: TestPki;
  let tokenFile: string;
  before(() => {
    pki = makePki('operator.test');
    tokenFile = join(pki.dir, 'token');
    writeFileSync(tokenFile, ' tok \n');
  });
  after(() => pki.cleanup());

  it('reads a key and certificate from files, and checks that they belong together', async () => {
    const a = pki.client('node-a');
    const b = pki.client('node-b');
    const m = await new FileCredentials({
      caFile: pki.caFile,
      certFile: a.certFile,
      keyFile: a.keyFile,
    }).current();
    assert.ok(m.cert.equals(a.cert) && m.key.equals(a.key) && m.ca.equals(pki.ca));
    assert.ok(Math.abs(m.notAfterMs - Date.now() - 24 * HOUR) < HOUR);
    assert.equal(m.renewAtMs, undefined);
    await refused(
      new FileCredentials({
        caFile: pki.caFile,
        certFile: a.certFile,
        keyFile: b.keyFile,
      }).current(),
      /not for the private key/,
    );
    await refused(
      new FileCredentials({
        caFile: pki.caFile,
        certFile: '/nonexistent',
        keyFile: a.keyFile,
      }).current(),
      /cannot read the certificate file \/nonexistent/,
    );
    await refused(
      new FileCredentials({
        caFile: pki.caFile,
        certFile: a.keyFile,
        keyFile: a.keyFile,
      }).current(),
      /not a PEM certificate/,
    );
  });

  it('bootstraps with the token, holds the certificate until 2/3 of its life, then renews', async () => {
    const clock = new FakeClock(Date.now());
    const requests: IssueRequest[] = [];
    const issue: Issuer = (r) => {
      requests.push(r);
      return Promise.resolve({
        certificatePem: pki.sign(r.publicKeyPem ?? '', r.node ?? ''),
        caPem: '',
        notAfterUnixMs: 0,
      });
    };
    const c = new BootstrapCredentials({
      node: 'node-a',
      caFile: pki.caFile,
      tokenFile,
      issue,
      clock,
    });
    const [m1, again] = await Promise.all([c.current(), c.current()]);
    assert.equal(requests.length, 1, 'concurrent callers share one request');
    assert.equal(m1, again);
    assert.equal(requests[0]?.token, 'tok');
    assert.equal(requests[0]?.node, 'node-a');
    assert.match(m1.key.toString(), /BEGIN PRIVATE KEY/);
    assert.ok(m1.renewAtMs !== undefined);
    assert.ok(Math.abs(m1.renewAtMs - clock.now() - 16 * HOUR) < HOUR);
    clock.advance(15 * HOUR);
    assert.equal(await c.current(), m1);
    clock.advance(2 * HOUR);
    const m2 = await c.current();
    assert.notEqual(m2, m1);
    assert.equal(requests.length, 2);
    assert.notEqual(requests[1]?.publicKeyPem, requests[0]?.publicKeyPem, 'a new key pair');
  });

  it('keeps a still valid certificate when a due renewal fails', async () => {
    const clock = new FakeClock(Date.now());
    let fail = false;
    const issue: Issuer = (r) =>
      fail
        ? Promise.reject(new Error('operator unavailable'))
        : Promise.resolve({
            certificatePem: pki.sign(r.publicKeyPem ?? '', 'node-a'),
            caPem: '',
            notAfterUnixMs: 0,
          });
    const c = new BootstrapCredentials({
      node: 'node-a',
      caFile: pki.caFile,
      tokenFile,
      issue,
      clock,
    });
    const m1 = await c.current();
    fail = true;
    clock.advance(20 * HOUR);
    assert.equal(await c.current(), m1);
    await refused(c.renew(), /bootstrap failed: operator unavailable/);
    clock.advance(5 * HOUR);
    await refused(c.current(), /operator unavailable/);
  });

  it('refuses a certificate for another node or another key', async () => {
    const other = pki.client('node-x');
    const forOther: Issuer = (r) =>
      Promise.resolve({
        certificatePem: pki.sign(r.publicKeyPem ?? '', 'node-b'),
        caPem: '',
        notAfterUnixMs: 0,
      });
    const otherKey: Issuer = () =>
      Promise.resolve({ certificatePem: other.cert.toString(), caPem: '', notAfterUnixMs: 0 });
    const garbage: Issuer = () =>
      Promise.resolve({ certificatePem: 'hello', caPem: '', notAfterUnixMs: 0 });
    const make = (issue: Issuer): BootstrapCredentials =>
      new BootstrapCredentials({ node: 'node-a', caFile: pki.caFile, tokenFile, issue });
    await refused(make(forOther).current(), /CN=node-b.*not CN=node-a/);
    await refused(make(otherKey).current(), /not for the private key/);
    await refused(make(garbage).current(), /not a PEM certificate/);
    await refused(
      new BootstrapCredentials({
        node: 'n',
        caFile: pki.caFile,
        tokenFile: '/nonexistent',
        issue: garbage,
      }).current(),
      /cannot read the token file/,
    );
  });
});
