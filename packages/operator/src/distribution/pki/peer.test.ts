import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { generateCa, pkiCrypto, randomSerial, type CertificateAuthority } from './ca.js';
import { issueNodeCertificate, issueServerCertificate } from './certificates.js';
import { checkPeer } from './peer.js';

const HOUR = 3600 * 1000;

/** A PeerCertificate as TLS reports it; only `raw` is read. */
function peerOf(pem: string): tls.PeerCertificate {
  return { raw: new X509Certificate(pem).raw } as tls.PeerCertificate;
}

function ecKeys(): { publicPem: string; spki: Buffer; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A leaf signed by `ca` with any subject and extended key usages (what the CA never makes). */
async function oddLeaf(
  ca: CertificateAuthority,
  subject: x509.JsonName,
  usages: string[],
): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject,
      issuer: ca.subjectName,
      notBefore: new Date(Date.now() - HOUR),
      notAfter: new Date(Date.now() + HOUR),
      publicKey: ecKeys().spki,
      signingKey: ca.signingKey,
      signingAlgorithm: ca.signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        ...(usages.length > 0 ? [new x509.ExtendedKeyUsageExtension(usages)] : []),
      ],
    },
    pkiCrypto,
  );
  return cert.toString('pem');
}

describe('pki: checkPeer', () => {
  let ca: CertificateAuthority;
  let other: CertificateAuthority;
  before(async () => {
    ca = await generateCa();
    other = await generateCa();
  });

  it('accepts a node certificate of the CA and names the node', async () => {
    const now = Date.now();
    const { certPem } = await issueNodeCertificate(ca, 'node-a', ecKeys().publicPem, { now });
    assert.deepEqual(checkPeer(ca, peerOf(certPem), now), { ok: true, node: 'node-a' });
  });

  it('refuses a missing certificate', () => {
    const now = Date.now();
    assert.deepEqual(checkPeer(ca, undefined, now), { ok: false, reason: 'no-certificate' });
    assert.deepEqual(checkPeer(ca, null, now), { ok: false, reason: 'no-certificate' });
    // What Node's getPeerCertificate() returns when the client sent none.
    assert.deepEqual(checkPeer(ca, {} as tls.PeerCertificate, now), {
      ok: false,
      reason: 'no-certificate',
    });
  });

  it("refuses another CA's certificate and garbage", async () => {
    const now = Date.now();
    const { certPem } = await issueNodeCertificate(other, 'node-a', ecKeys().publicPem);
    assert.deepEqual(checkPeer(ca, peerOf(certPem), now), { ok: false, reason: 'untrusted' });
    // Same subject as our CA but another key: the signature check catches it.
    const twin = await generateCa();
    const { certPem: twinCert } = await issueNodeCertificate(twin, 'node-a', ecKeys().publicPem);
    assert.deepEqual(checkPeer(ca, peerOf(twinCert), now), { ok: false, reason: 'untrusted' });
    const garbage = { raw: Buffer.from('not a certificate') } as tls.PeerCertificate;
    assert.deepEqual(checkPeer(ca, garbage, now), { ok: false, reason: 'untrusted' });
  });

  it('refuses an expired and a not-yet-valid certificate', async () => {
    const now = Date.now();
    const expired = await issueNodeCertificate(ca, 'node-a', ecKeys().publicPem, {
      notBefore: now - 2 * HOUR,
      validityMs: HOUR,
      now,
    });
    assert.deepEqual(checkPeer(ca, peerOf(expired.certPem), now), {
      ok: false,
      reason: 'expired',
    });
    const fresh = await issueNodeCertificate(ca, 'node-a', ecKeys().publicPem, { now });
    assert.deepEqual(checkPeer(ca, peerOf(fresh.certPem), fresh.notAfter + 1000), {
      ok: false,
      reason: 'expired',
    });
    const future = await issueNodeCertificate(ca, 'node-a', ecKeys().publicPem, {
      notBefore: now + HOUR,
      now,
    });
    assert.deepEqual(checkPeer(ca, peerOf(future.certPem), now), {
      ok: false,
      reason: 'not-yet-valid',
    });
  });

  it('refuses certificates of the CA that are not node certificates', async () => {
    const now = Date.now();
    const server = await issueServerCertificate(ca, { dnsNames: ['node-a'] });
    const notNode = { ok: false, reason: 'not-a-node' };
    assert.deepEqual(checkPeer(ca, peerOf(server.certPem), now), notNode);
    assert.deepEqual(checkPeer(ca, peerOf(ca.certPem), now), notNode);
    const clientAuth = '1.3.6.1.5.5.7.3.2';
    const cases: [x509.JsonName, string[]][] = [
      [[{ CN: ['node-a'] }, { O: ['system:masters'] }], [clientAuth]],
      [[{ CN: ['node-a'] }], [clientAuth]],
      [[{ CN: ['node-a'] }, { O: ['palisade:nodes'] }], []],
      [[{ CN: ['Not_A_Node'] }, { O: ['palisade:nodes'] }], [clientAuth]],
      [[{ CN: ['a', 'b'] }, { O: ['palisade:nodes'] }], [clientAuth]],
      [[{ O: ['palisade:nodes'] }], [clientAuth]],
    ];
    for (const [subject, usages] of cases)
      assert.deepEqual(
        checkPeer(ca, peerOf(await oddLeaf(ca, subject, usages)), now),
        notNode,
        JSON.stringify(subject),
      );
    // The helper itself makes acceptable certificates when asked for the right things.
    const ok = await oddLeaf(ca, [{ CN: ['node-a'] }, { O: ['palisade:nodes'] }], [clientAuth]);
    assert.deepEqual(checkPeer(ca, peerOf(ok), now), { ok: true, node: 'node-a' });
  });

  it('works on what a TLS server sees (requestCert, rejectUnauthorized false)', async () => {
    const serverCert = await issueServerCertificate(ca, { dnsNames: ['localhost'] });
    const keys = ecKeys();
    const nodeCert = await issueNodeCertificate(ca, 'node-b', keys.publicPem);
    const seen: ReturnType<typeof checkPeer>[] = [];
    const server = tls.createServer(
      {
        cert: serverCert.certPem,
        key: serverCert.keyPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (socket) => {
        seen.push(checkPeer(ca, socket.getPeerCertificate(), Date.now()));
        socket.end();
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const connect = async (withCert: boolean): Promise<void> => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: ca.certPem,
        ...(withCert ? { cert: nodeCert.certPem, key: keys.privatePem } : {}),
      });
      socket.resume();
      await once(socket, 'close');
    };
    try {
      await connect(true);
      await connect(false);
    } finally {
      server.close();
    }
    assert.deepEqual(seen, [
      { ok: true, node: 'node-b' },
      { ok: false, reason: 'no-certificate' },
    ]);
  });
});
