/**
 * The operator's certificate authority: the root that signs the distribution server's
 * certificate and every node's client certificate.
 *
 * The CA lives in the Secret `palisade-ca` (keys `ca.crt`, `ca.key`) in the operator's
 * namespace and is made on the first start. Two replicas starting together race on the
 * create: the loser gets 409 AlreadyExists, reads the winner's Secret and uses that CA, so
 * the cluster never has two. The certificate alone is published in the ConfigMap
 * `palisade-ca` (key `ca.crt`) for the shims to mount.
 *
 * Invariants: a Secret that exists is never overwritten (an administrator may have put their
 * own CA there); a CA whose key does not match its certificate, that is not a CA, or that is
 * outside its validity window is refused with a `PKI` error naming the Secret.
 */
// @peculiar/x509 needs a Reflect metadata polyfill loaded before it (it uses tsyringe).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  createPrivateKey,
  createPublicKey,
  webcrypto,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { OperatorError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { KubeApiError } from '../../kube/kubeApiError.js';
import type { KubeObject } from '../../kube/kubeObject.js';
import { Resources } from '../../kube/resources.js';
import { silentLogger, type Logger } from '../../log.js';

/** Name of the Secret holding the CA, and of the ConfigMap publishing its certificate. */
export const CA_OBJECT_NAME = 'palisade-ca';
/** Key of the CA certificate (PEM) in the Secret and the ConfigMap. */
export const CA_CERT_KEY = 'ca.crt';
/** Key of the CA private key (PEM, PKCS#8) in the Secret. */
export const CA_KEY_KEY = 'ca.key';
/** Default validity of a new CA: ten years. */
export const DEFAULT_CA_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;

const LABELS = { 'app.kubernetes.io/name': 'palisade', 'app.kubernetes.io/component': 'ca' };
const ATTEMPTS = 5;

/** The Web Crypto implementation every PKI module signs and hashes with. */
export const pkiCrypto: webcrypto.Crypto = webcrypto;

/** A loaded CA: what signing and verifying need. Immutable. */
export interface CertificateAuthority {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  /** The CA private key, PEM (PKCS#8). Secret material: never log it. */
  readonly keyPem: string;
  /** The parsed CA certificate (`verify`, `checkIssued`). */
  readonly certificate: X509Certificate;
  /** The CA public key, to verify signatures with. */
  readonly publicKey: KeyObject;
  /** The CA private key as a Web Crypto key, to sign with. */
  readonly signingKey: webcrypto.CryptoKey;
  /** The signature algorithm for the CA's key (ECDSA with SHA-256/384, or RSA PKCS#1 v1.5). */
  readonly signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
  /** The CA's subject, the issuer of every certificate it signs. */
  readonly subjectName: x509.Name;
  /** The CA's subject key identifier (hex), the authority key identifier of what it signs. */
  readonly keyId: string | undefined;
  /** Start of the CA's validity, ms since the epoch. */
  readonly notBefore: number;
  /** End of the CA's validity, ms since the epoch. */
  readonly notAfter: number;
}

/** Options of {@link generateCa}. */
export interface GenerateCaOptions {
  /** Subject common name (default `palisade-ca`). */
  readonly commonName?: string;
  /** Validity (default {@link DEFAULT_CA_VALIDITY_MS}). */
  readonly validityMs?: number;
  /** The current time, ms (default `Date.now()`). */
  readonly now?: number;
}

/** Makes a new self-signed CA with an ECDSA P-256 key. No Kubernetes involved. */
export async function generateCa(opts: GenerateCaOptions = {}): Promise<CertificateAuthority> {
  const now = opts.now ?? Date.now();
  const validityMs = opts.validityMs ?? DEFAULT_CA_VALIDITY_MS;
  if (!(validityMs > 0)) throw new OperatorError('PKI', `CA validity must be > 0 ms`);
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  try {
    const keys = await pkiCrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const name: x509.JsonName = [{ CN: [opts.commonName ?? 'palisade-ca'] }, { O: ['palisade'] }];
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: randomSerial(),
        name,
        // Backdated a little, for clocks slightly behind ours.
        notBefore: new Date(now - 5 * 60_000),
        notAfter: new Date(now + validityMs),
        keys,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
            true,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, pkiCrypto),
        ],
      },
      pkiCrypto,
    );
    const pkcs8 = await pkiCrypto.subtle.exportKey('pkcs8', keys.privateKey);
    const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
    return await caFromPem(cert.toString('pem'), keyPem, now);
  } catch (err) {
    if (err instanceof OperatorError) throw err;
    throw new OperatorError('PKI', `cannot make a CA: ${errText(err)}`, { cause: err });
  }
}

/**
 * A CA from its certificate and key (PEM; the key PKCS#8, SEC1 or PKCS#1). Refused when the
 * certificate is not a CA, the key does not match it, the key is neither ECDSA P-256/P-384
 * nor RSA ≥ 2048 bits, or `now` is outside the certificate's validity.
 */
export async function caFromPem(
  certPem: string,
  keyPem: string,
  now = Date.now(),
): Promise<CertificateAuthority> {
  let certificate: X509Certificate;
  let parsed: x509.X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(certPem);
    parsed = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new OperatorError('PKI', `the CA certificate cannot be parsed: ${errText(err)}`, {
      cause: err,
    });
  }
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    // Never put the key material into the message.
    throw new OperatorError('PKI', `the CA key cannot be parsed`, { cause: err });
  }
  if (!certificate.ca) throw new OperatorError('PKI', 'the CA certificate is not a CA');
  const publicKey = certificate.publicKey;
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(privateKey)).equals(spki(publicKey)))
    throw new OperatorError('PKI', 'the CA key does not match the CA certificate');
  const notBefore = parsed.notBefore.getTime();
  const notAfter = parsed.notAfter.getTime();
  if (now < notBefore)
    throw new OperatorError(
      'PKI',
      `the CA certificate is not valid before ${parsed.notBefore.toISOString()}`,
    );
  if (now >= notAfter)
    throw new OperatorError(
      'PKI',
      `the CA certificate expired at ${parsed.notAfter.toISOString()}`,
    );
  const { importAlg, signingAlgorithm } = algorithmsFor(privateKey);
  let signingKey: webcrypto.CryptoKey;
  try {
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    signingKey = await pkiCrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
  } catch (err) {
    throw new OperatorError('PKI', `the CA key cannot be used for signing: ${errText(err)}`, {
      cause: err,
    });
  }
  const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
  return {
    certPem: parsed.toString('pem'),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificate,
    publicKey,
    signingKey,
    signingAlgorithm,
    subjectName: parsed.subjectName,
    keyId: ski?.keyId,
    notBefore,
    notAfter,
  };
}

function algorithmsFor(key: KeyObject): {
  importAlg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
} {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1')
      return {
        importAlg: { name: 'ECDSA', namedCurve: 'P-256' },
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      };
    if (details.namedCurve === 'secp384r1')
      return {
        importAlg: { name: 'ECDSA', namedCurve: 'P-384' },
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
      };
    throw new OperatorError('PKI', `the CA key's curve ${details.namedCurve} is not supported`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048)
      throw new OperatorError('PKI', `the CA's RSA key is shorter than 2048 bits`);
    return {
      importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    };
  }
  throw new OperatorError(
    'PKI',
    `the CA key's type ${key.asymmetricKeyType ?? 'unknown'} is not supported (ECDSA or RSA)`,
  );
}

/** Options of {@link loadOrCreateCa}. */
export interface LoadOrCreateCaOptions extends GenerateCaOptions {
  /** Default: silent. */
  readonly logger?: Logger;
  /** Warn when the CA expires within this many ms (default 30 days). */
  readonly expiryWarningMs?: number;
}

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}
interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

/**
 * The cluster's CA: read from the Secret `palisade-ca` in `namespace`, or made and stored
 * there when the Secret does not exist; then the ConfigMap `palisade-ca` is created or
 * brought up to date with the CA certificate. Safe to call from several replicas at once:
 * they all end up with the same CA. Rejects with a `PKI` error for an unusable Secret and
 * with a `KUBE` error when the apiserver fails.
 */
export async function loadOrCreateCa(
  client: KubeClient,
  namespace: string,
  opts: LoadOrCreateCaOptions = {},
): Promise<CertificateAuthority> {
  const log = opts.logger ?? silentLogger;
  const ca = await loadOrCreateSecret(client, namespace, opts, log);
  const left = ca.notAfter - (opts.now ?? Date.now());
  if (left < (opts.expiryWarningMs ?? 30 * 24 * 3600 * 1000))
    log.warn('the CA certificate expires soon', {
      secret: `${namespace}/${CA_OBJECT_NAME}`,
      notAfter: new Date(ca.notAfter).toISOString(),
    });
  await publishCaCertificate(client, namespace, ca.certPem, log);
  return ca;
}

async function loadOrCreateSecret(
  client: KubeClient,
  namespace: string,
  opts: LoadOrCreateCaOptions,
  log: Logger,
): Promise<CertificateAuthority> {
  for (let attempt = 1; ; attempt++) {
    const have = await client.get<SecretObject>(Resources.secrets, CA_OBJECT_NAME, namespace);
    if (have) return caFromSecret(have, namespace, opts.now);
    const ca = await generateCa(opts);
    const secret: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: CA_OBJECT_NAME, namespace, labels: { ...LABELS } },
      type: 'Opaque',
      data: {
        [CA_CERT_KEY]: Buffer.from(ca.certPem).toString('base64'),
        [CA_KEY_KEY]: Buffer.from(ca.keyPem).toString('base64'),
      },
    };
    try {
      await client.create(Resources.secrets, secret);
      log.info('created the CA', {
        secret: `${namespace}/${CA_OBJECT_NAME}`,
        notAfter: new Date(ca.notAfter).toISOString(),
      });
      return ca;
    } catch (err) {
      // Another replica created it first: read theirs (next turn of the loop).
      if (!(err instanceof KubeApiError && err.alreadyExists) || attempt >= ATTEMPTS) throw err;
      log.debug('the CA Secret was created concurrently; reading it', { attempt });
    }
  }
}

async function caFromSecret(
  secret: SecretObject,
  namespace: string,
  now: number | undefined,
): Promise<CertificateAuthority> {
  const where = `Secret ${namespace}/${CA_OBJECT_NAME}`;
  const certB64 = secret.data?.[CA_CERT_KEY];
  const keyB64 = secret.data?.[CA_KEY_KEY];
  if (!certB64 || !keyB64)
    throw new OperatorError(
      'PKI',
      `${where} lacks ${!certB64 ? CA_CERT_KEY : CA_KEY_KEY}; fix it or delete it to make a new CA`,
    );
  try {
    return await caFromPem(
      Buffer.from(certB64, 'base64').toString('utf8'),
      Buffer.from(keyB64, 'base64').toString('utf8'),
      now,
    );
  } catch (err) {
    throw new OperatorError('PKI', `${where}: ${errText(err)}`, { cause: err });
  }
}

/** Creates the ConfigMap `palisade-ca`, or updates its `ca.crt` when it differs. */
async function publishCaCertificate(
  client: KubeClient,
  namespace: string,
  certPem: string,
  log: Logger,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const have = await client.get<ConfigMapObject>(
        Resources.configMaps,
        CA_OBJECT_NAME,
        namespace,
      );
      if (!have) {
        await client.create<ConfigMapObject>(Resources.configMaps, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: CA_OBJECT_NAME, namespace, labels: { ...LABELS } },
          data: { [CA_CERT_KEY]: certPem },
        });
        log.info('published the CA certificate', {
          configMap: `${namespace}/${CA_OBJECT_NAME}`,
        });
        return;
      }
      if (have.data?.[CA_CERT_KEY] === certPem) return;
      await client.replace<ConfigMapObject>(Resources.configMaps, {
        ...have,
        data: { ...have.data, [CA_CERT_KEY]: certPem },
      });
      log.info('updated the published CA certificate', {
        configMap: `${namespace}/${CA_OBJECT_NAME}`,
      });
      return;
    } catch (err) {
      const raced = err instanceof KubeApiError && (err.alreadyExists || err.conflict);
      if (!raced || attempt >= ATTEMPTS) throw err;
    }
  }
}

/** A random positive 128-bit serial number, hex. */
export function randomSerial(): string {
  const b = new Uint8Array(16);
  pkiCrypto.getRandomValues(b);
  // Positive and of full length (no leading zero byte to strip).
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(b).toString('hex');
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
