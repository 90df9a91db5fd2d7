import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { generateCa, type CertificateAuthority } from './ca.js';
import {
  CertificateRequestError,
  CLOCK_SKEW_MS,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  issueNodeCertificate,
  issueServerCertificate,
  nodeNameProblem,
  parseNodePublicKey,
} from './certificates.js';

const HOUR = 3600 * 1000;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

function ecPublicKeyPem(namedCurve = 'P-256'): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

function rsaPublicKeyPem(modulusLength: number): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** `openssl verify` of `leafPem` against `caPem` for `purpose`; the output. */
function opensslVerify(caPem: string, leafPem: string, purpose: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-pki-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), caPem);
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    return execFileSync(
      'openssl',
      ['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', purpose, join(dir, 'leaf.pem')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function refusedFor(field: CertificateRequestError['field'], pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CertificateRequestError, String(err));
    assert.equal(err.field, field);
    assert.equal(err.code, 'PKI');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('pki: certificates', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await generateCa();
  });

  it('signs a node certificate: CN=node, O=palisade:nodes, clientAuth, 24 h', async () => {
    const now = Date.now();
    const issued = await issueNodeCertificate(ca, 'node-1.example', ecPublicKeyPem(), { now });
    const cert = new X509Certificate(issued.certPem);
    assert.ok(cert.verify(ca.publicKey));
    assert.ok(cert.checkIssued(ca.certificate));
    assert.equal(cert.ca, false);
    assert.match(cert.subject, /^CN=node-1\.example$/m);
    assert.match(cert.subject, /^O=palisade:nodes$/m);
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    // Whole seconds, as encoded.
    assert.equal(issued.notAfter, Math.floor((now + DEFAULT_NODE_CERT_VALIDITY_MS) / 1000) * 1000);
    assert.equal(Date.parse(cert.validTo), issued.notAfter);
    assert.ok(Date.parse(cert.validFrom) <= now - CLOCK_SKEW_MS + 1000);
    assert.match(opensslVerify(ca.certPem, issued.certPem, 'sslclient'), /: OK/);
    assert.throws(() => opensslVerify(ca.certPem, issued.certPem, 'sslserver'));
  });

  it('signs RSA keys of 2048 bits and more', async () => {
    const issued = await issueNodeCertificate(ca, 'n', rsaPublicKeyPem(2048));
    const cert = new X509Certificate(issued.certPem);
    assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
    assert.match(opensslVerify(ca.certPem, issued.certPem, 'sslclient'), /: OK/);
  });

  it('honours notBefore and validity, and never outlives the CA', async () => {
    const now = Date.now();
    const past = await issueNodeCertificate(ca, 'n', ecPublicKeyPem(), {
      notBefore: now - 2 * HOUR,
      validityMs: HOUR,
      now,
    });
    const cert = new X509Certificate(past.certPem);
    assert.equal(Date.parse(cert.validFrom), Math.floor((now - 2 * HOUR) / 1000) * 1000);
    assert.equal(past.notAfter, Math.floor((now - HOUR) / 1000) * 1000);

    const shortCa = await generateCa({ validityMs: HOUR });
    const capped = await issueNodeCertificate(shortCa, 'n', ecPublicKeyPem(), {
      validityMs: 100 * HOUR,
    });
    assert.equal(capped.notAfter, shortCa.notAfter);

    await assert.rejects(
      issueNodeCertificate(ca, 'n', ecPublicKeyPem(), { validityMs: 0 }),
      refusedFor('validity', /> 0 ms/),
    );
    await assert.rejects(
      issueNodeCertificate(shortCa, 'n', ecPublicKeyPem(), { notBefore: shortCa.notAfter + 1 }),
      refusedFor('validity', /empty validity window/),
    );
  });

  it('refuses bad node names', async () => {
    const bad = [
      '',
      'Node-1',
      '-node',
      'node-',
      'node_1',
      'node..1',
      '.node',
      'node 1',
      'a/b',
      'CN=x,O=palisade:nodes',
      'x'.repeat(254),
    ];
    for (const name of bad) {
      assert.ok(nodeNameProblem(name), `${JSON.stringify(name)} should be refused`);
      await assert.rejects(
        issueNodeCertificate(ca, name, ecPublicKeyPem()),
        refusedFor('node', /node name/),
      );
    }
    for (const name of ['n', 'node-1', 'ip-10-0-0-1.ec2.internal', '1', 'x'.repeat(253)])
      assert.equal(nodeNameProblem(name), undefined, name);
  });

  it('refuses keys that are not SPKI ECDSA P-256 or RSA ≥ 2048', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const privatePem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    const cases: [string, RegExp][] = [
      ['', /exactly one PEM block/],
      ['garbage', /exactly one PEM block/],
      [privatePem, /exactly one PEM block "PUBLIC KEY"/],
      [ecPublicKeyPem() + ecPublicKeyPem(), /exactly one PEM block/],
      ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', /not a parseable/],
      [ecPublicKeyPem('P-384'), /EC curve secp384r1 \(only P-256/],
      [rsaPublicKeyPem(1024), /RSA key of 1024 bits \(at least 2048/],
      [ed.toString(), /key type ed25519/],
      ['x'.repeat(9000), /longer than/],
    ];
    for (const [pem, pattern] of cases) {
      assert.throws(() => parseNodePublicKey(pem), refusedFor('publicKey', pattern));
      await assert.rejects(issueNodeCertificate(ca, 'n', pem), refusedFor('publicKey', pattern));
    }
  });

  it('makes a server certificate with SANs and serverAuth', async () => {
    const s = await issueServerCertificate(ca, {
      dnsNames: ['palisade-operator.palisade-system.svc', 'localhost'],
      ips: ['127.0.0.1', '::1'],
      validityMs: HOUR,
    });
    const cert = new X509Certificate(s.certPem);
    assert.ok(cert.verify(ca.publicKey));
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkHost('other.example'), undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(s.keyPem)));
    assert.match(opensslVerify(ca.certPem, s.certPem, 'sslserver'), /: OK/);
    await assert.rejects(
      issueServerCertificate(ca, { dnsNames: [] }),
      refusedFor('names', /needs a DNS name or an IP/),
    );
    await assert.rejects(
      issueServerCertificate(ca, { dnsNames: ['ok'], ips: ['300.1.1.1'] }),
      refusedFor('names', /not an IP/),
    );
    await assert.rejects(
      issueServerCertificate(ca, { dnsNames: ['bad name'] }),
      refusedFor('names', /not a DNS name/),
    );
  });
});
