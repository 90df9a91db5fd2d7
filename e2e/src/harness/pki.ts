/**
 * The control plane's certificates: a throw-away CA, the apiserver's serving certificate,
 * the admin client certificate (`O=system:masters`) and the service-account signing key.
 * Keys are ECDSA P-256 (made by node:crypto, instantly); certificates are made by `openssl`,
 * which must be on PATH. Everything is valid for two days and lives in the control plane's
 * temporary directory.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireExecutable } from './binaries.js';
import { ControlPlaneError } from './errors.js';

/** Paths of the PEM files written by {@link createPki}. */
export interface Pki {
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  /** Private key the apiserver signs service-account tokens with. */
  readonly serviceAccountKey: string;
  /** Its public key, which the apiserver verifies tokens with. */
  readonly serviceAccountPub: string;
}

const DAYS = '2';

// Extensions per certificate; sections are picked with -extensions.
const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

function openssl(bin: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, (err, _stdout, stderr) => {
      if (err)
        reject(
          new ControlPlaneError('PKI', `openssl ${args.join(' ')} failed: ${stderr.trim()}`, {
            cause: err,
          }),
        );
      else resolve();
    });
  });
}

async function writeKey(path: string): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(path, privateKey, { mode: 0o600 });
  await writeFile(path.replace(/\.key$/, '.pub'), publicKey);
}

/** Writes the PKI into `dir` and returns the file paths. */
export async function createPki(dir: string): Promise<Pki> {
  const bin = requireExecutable('openssl', 'install it with `apt-get install openssl`');
  const p = (f: string): string => join(dir, f);
  const cnf = p('openssl.cnf');
  await writeFile(cnf, OPENSSL_CNF);
  const pki: Pki = {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
  await Promise.all([pki.caKey, pki.serverKey, pki.adminKey, pki.serviceAccountKey].map(writeKey));
  await openssl(bin, [
    'req',
    '-x509',
    '-new',
    '-config',
    cnf,
    '-extensions',
    'ca',
    '-key',
    pki.caKey,
    '-subj',
    '/CN=palisade-e2e-ca',
    '-days',
    DAYS,
    '-out',
    pki.caCert,
  ]);
  const leaf = async (name: string, subj: string, ext: string, key: string, cert: string) => {
    const csr = p(`${name}.csr`);
    await openssl(bin, ['req', '-new', '-config', cnf, '-key', key, '-subj', subj, '-out', csr]);
    await openssl(bin, [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      pki.caCert,
      '-CAkey',
      pki.caKey,
      '-set_serial',
      `0x${randomBytes(12).toString('hex')}`,
      '-days',
      DAYS,
      '-extfile',
      cnf,
      '-extensions',
      ext,
      '-out',
      cert,
    ]);
  };
  await Promise.all([
    leaf('apiserver', '/CN=kube-apiserver', 'server', pki.serverKey, pki.serverCert),
    leaf('admin', '/O=system:masters/CN=admin', 'client', pki.adminKey, pki.adminCert),
  ]);
  return pki;
}
