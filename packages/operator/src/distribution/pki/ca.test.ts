import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OperatorError } from '../../errors.js';
import { caFromPem, generateCa } from './ca.js';
import { issueServerCertificate } from './certificates.js';

const DAY = 24 * 3600 * 1000;

describe('pki: CA', () => {
  it('generates a self-signed ECDSA P-256 CA whose key matches', async () => {
    const now = Date.UTC(2030, 0, 1);
    const ca = await generateCa({ now, validityMs: 365 * DAY, commonName: 'test-ca' });
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.ok(cert.checkIssued(cert));
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.match(cert.subject, /CN=test-ca/);
    assert.equal(ca.notAfter, now + 365 * DAY);
    assert.ok(ca.notBefore <= now);
    assert.ok(ca.keyId, 'has a subject key identifier');
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('round-trips through PEM to the same CA', async () => {
    const ca = await generateCa();
    const again = await caFromPem(ca.certPem, ca.keyPem);
    assert.equal(again.certPem, ca.certPem);
    assert.equal(again.keyId, ca.keyId);
    assert.equal(again.notAfter, ca.notAfter);
  });

  it('loads an RSA CA made by openssl (PKCS#1 key) and signs with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-ca-'));
    try {
      const key = join(dir, 'ca.key');
      const crt = join(dir, 'ca.crt');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          crt,
          '-subj',
          '/CN=rsa-ca',
          '-days',
          '2',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign',
        ],
        { stdio: 'ignore' },
      );
      const pkcs1 = execFileSync('openssl', ['rsa', '-in', key, '-traditional'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      }).toString();
      assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
      const ca = await caFromPem(readFileSync(crt, 'utf8'), pkcs1);
      assert.equal(ca.signingAlgorithm.name, 'RSASSA-PKCS1-v1_5');
      const leaf = await issueServerCertificate(ca, { dnsNames: ['x.example'] });
      assert.ok(new X509Certificate(leaf.certPem).verify(ca.publicKey));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a key that does not match, a leaf, an expired CA, garbage', async () => {
    const a = await generateCa();
    const b = await generateCa();
    await assert.rejects(caFromPem(a.certPem, b.keyPem), (err: unknown) => {
      assert.ok(err instanceof OperatorError);
      assert.equal(err.code, 'PKI');
      assert.match(err.message, /does not match/);
      return true;
    });
    const leaf = await issueServerCertificate(a, { dnsNames: ['x.example'] });
    await assert.rejects(caFromPem(leaf.certPem, leaf.keyPem), /is not a CA/);
    await assert.rejects(caFromPem(a.certPem, a.keyPem, a.notAfter + 1), /expired at/);
    await assert.rejects(caFromPem(a.certPem, a.keyPem, a.notBefore - 1), /not valid before/);
    await assert.rejects(caFromPem('nope', a.keyPem), /cannot be parsed/);
    await assert.rejects(caFromPem(a.certPem, 'nope'), (err: unknown) => {
      assert.ok(err instanceof OperatorError);
      assert.equal(err.message, 'the CA key cannot be parsed');
      return true;
    });
  });

  it('refuses a non-positive validity', async () => {
    await assert.rejects(generateCa({ validityMs: 0 }), /validity/);
  });
});
