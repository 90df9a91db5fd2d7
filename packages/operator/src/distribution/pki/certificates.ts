/**
 * Certificates the CA signs: the distribution server's (TLS server auth) and each node's
 * (TLS client auth, subject `CN=<node>, O=palisade:nodes`).
 *
 * Invariants: a node certificate is only ever signed for a valid node name (DNS-1123
 * subdomain) and a public key that is ECDSA P-256 or RSA ≥ 2048 bits, given as SPKI PEM —
 * never a private key; it is a leaf (`CA:FALSE`) usable only for client auth; and it never
 * outlives the CA that signed it.
 */
// @peculiar/x509 needs a Reflect metadata polyfill loaded before it (it uses tsyringe).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { OperatorError } from '../../errors.js';
import { pkiCrypto, randomSerial, type CertificateAuthority } from './ca.js';

/** The subject organisation of every node certificate. */
export const NODE_ORGANIZATION = 'palisade:nodes';
/** Default validity of a node certificate: 24 hours. */
export const DEFAULT_NODE_CERT_VALIDITY_MS = 24 * 3600 * 1000;
/** Default validity of the server certificate: 90 days. */
export const DEFAULT_SERVER_CERT_VALIDITY_MS = 90 * 24 * 3600 * 1000;
/** How far a certificate's start is backdated by default, for clocks slightly behind. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** The longest public key PEM accepted (an RSA-8192 SPKI is about 1.5 KiB). */
const MAX_PUBLIC_KEY_PEM = 8192;

/** What was wrong with a certificate request. */
export type CertificateRequestField = 'node' | 'publicKey' | 'validity' | 'names';

/** A certificate request that cannot be signed as asked (the caller's fault, not the CA's). */
export class CertificateRequestError extends OperatorError {
  constructor(
    /** The part of the request that was refused. */
    readonly field: CertificateRequestField,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('PKI', message, options);
  }
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Why `name` is not a valid Kubernetes node name (a DNS-1123 subdomain: at most 253
 * characters, lower-case alphanumerics, `-` and `.`, each dot-separated part starting and
 * ending with an alphanumeric), or undefined when it is one.
 */
export function nodeNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the node name is empty';
  if (name.length > 253) return `the node name is longer than 253 characters`;
  if (!DNS1123_SUBDOMAIN.test(name))
    return `the node name ${JSON.stringify(name)} is not a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', starting and ending with an alphanumeric)`;
  return undefined;
}

/**
 * The public key of a node's request: SPKI PEM (`BEGIN PUBLIC KEY`), ECDSA P-256 or RSA of
 * at least 2048 bits. Throws {@link CertificateRequestError} (`publicKey`) otherwise.
 */
export function parseNodePublicKey(pem: string): KeyObject {
  const refuse = (why: string, cause?: unknown): never => {
    throw new CertificateRequestError(
      'publicKey',
      `public key refused: ${why}`,
      cause === undefined ? undefined : { cause },
    );
  };
  if (pem.length > MAX_PUBLIC_KEY_PEM) refuse(`longer than ${MAX_PUBLIC_KEY_PEM} characters`);
  const blocks = pem.match(/-----BEGIN ([A-Z0-9 ]+)-----/g) ?? [];
  // createPublicKey would also accept a private key and derive the public half from it.
  if (blocks.length !== 1 || blocks[0] !== '-----BEGIN PUBLIC KEY-----')
    refuse('expected exactly one PEM block "PUBLIC KEY" (SPKI)');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    return refuse('not a parseable SPKI public key', err);
  }
  if (key.type !== 'public') refuse('not a public key');
  const details = key.asymmetricKeyDetails ?? {};
  const bits = details.modulusLength ?? 0;
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve !== 'prime256v1')
      refuse(`EC curve ${details.namedCurve ?? 'unknown'} (only P-256 is accepted)`);
    return key;
  }
  if (key.asymmetricKeyType === 'rsa') {
    if (bits < 2048) refuse(`RSA key of ${bits} bits (at least 2048 are required)`);
    if (bits > 8192) refuse(`RSA key of ${bits} bits (at most 8192 are accepted)`);
    return key;
  }
  return refuse(`key type ${key.asymmetricKeyType ?? 'unknown'} (ECDSA P-256 or RSA ≥ 2048 bits)`);
}

/** Validity of a certificate to sign. */
export interface ValidityOptions {
  /** How long it is valid from its start (`notBefore` if given, else now). */
  readonly validityMs?: number;
  /** Start of validity, ms since the epoch (default: now minus {@link CLOCK_SKEW_MS}). */
  readonly notBefore?: number;
  /** The current time, ms (default `Date.now()`). */
  readonly now?: number;
}

/** A signed node certificate. */
export interface NodeCertificate {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** End of validity, ms since the epoch (whole seconds, as encoded in the certificate). */
  readonly notAfter: number;
}

/**
 * Signs a node's client certificate: subject `CN=<node>, O=palisade:nodes`, extended key
 * usage clientAuth, valid for `validityMs` (default 24 h) but never past the CA's end.
 * Throws {@link CertificateRequestError} for a bad node name, key or validity.
 */
export async function issueNodeCertificate(
  ca: CertificateAuthority,
  node: string,
  publicKeyPem: string,
  opts: ValidityOptions = {},
): Promise<NodeCertificate> {
  const problem = nodeNameProblem(node);
  if (problem) throw new CertificateRequestError('node', problem);
  const key = parseNodePublicKey(publicKeyPem);
  const keyUsage =
    key.asymmetricKeyType === 'rsa'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const cert = await sign(ca, {
    subject: [{ CN: [node] }, { O: [NODE_ORGANIZATION] }],
    spki: key.export({ type: 'spki', format: 'der' }),
    keyUsage,
    extendedKeyUsage: x509.ExtendedKeyUsage.clientAuth,
    extra: [],
    validity: opts,
    defaultValidityMs: DEFAULT_NODE_CERT_VALIDITY_MS,
  });
  return { certPem: cert.toString('pem'), notAfter: cert.notAfter.getTime() };
}

/** What the server certificate names. */
export interface ServerCertificateOptions extends ValidityOptions {
  /** DNS subject alternative names (the first is also the common name). */
  readonly dnsNames: readonly string[];
  /** IP subject alternative names. */
  readonly ips?: readonly string[];
}

/** A signed server certificate and its freshly made key. */
export interface ServerCertificate {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** Its private key, PEM (PKCS#8, ECDSA P-256). Secret material: never log it. */
  readonly keyPem: string;
  /** End of validity, ms since the epoch. */
  readonly notAfter: number;
}

/**
 * Makes a key pair (ECDSA P-256) and signs a server certificate for it: extended key usage
 * serverAuth, the given DNS names and IPs as subject alternative names, valid for
 * `validityMs` (default 90 days) but never past the CA's end.
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  opts: ServerCertificateOptions,
): Promise<ServerCertificate> {
  const ips = opts.ips ?? [];
  if (opts.dnsNames.length === 0 && ips.length === 0)
    throw new CertificateRequestError('names', 'a server certificate needs a DNS name or an IP');
  for (const ip of ips)
    if (isIP(ip) === 0) throw new CertificateRequestError('names', `${ip} is not an IP address`);
  for (const dns of opts.dnsNames) {
    const wildcard = dns.startsWith('*.') ? dns.slice(2) : dns;
    if (nodeNameProblem(wildcard))
      throw new CertificateRequestError('names', `${JSON.stringify(dns)} is not a DNS name`);
  }
  const keys = await pkiCrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const names: x509.JsonGeneralName[] = [
    ...opts.dnsNames.map((value): x509.JsonGeneralName => ({ type: x509.DNS, value })),
    ...ips.map((value): x509.JsonGeneralName => ({ type: x509.IP, value })),
  ];
  const cert = await sign(ca, {
    subject: [{ CN: [opts.dnsNames[0] ?? ips[0] ?? 'palisade-operator'] }],
    spki: await pkiCrypto.subtle.exportKey('spki', keys.publicKey),
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
    extra: [new x509.SubjectAlternativeNameExtension(names, false)],
    validity: opts,
    defaultValidityMs: DEFAULT_SERVER_CERT_VALIDITY_MS,
  });
  const pkcs8 = await pkiCrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: cert.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    notAfter: cert.notAfter.getTime(),
  };
}

interface LeafRequest {
  readonly subject: x509.JsonName;
  readonly spki: ArrayBuffer | Buffer;
  readonly keyUsage: x509.KeyUsageFlags;
  readonly extendedKeyUsage: x509.ExtendedKeyUsage;
  readonly extra: readonly x509.Extension[];
  readonly validity: ValidityOptions;
  readonly defaultValidityMs: number;
}

/** Signs a leaf certificate (CA:FALSE, key ids, the given usages) with the CA. */
async function sign(ca: CertificateAuthority, req: LeafRequest): Promise<x509.X509Certificate> {
  const now = req.validity.now ?? Date.now();
  const validityMs = req.validity.validityMs ?? req.defaultValidityMs;
  if (!Number.isFinite(validityMs) || validityMs <= 0)
    throw new CertificateRequestError('validity', `validity must be > 0 ms, not ${validityMs}`);
  const start = req.validity.notBefore ?? now;
  const notBefore = req.validity.notBefore ?? now - CLOCK_SKEW_MS;
  const notAfter = Math.min(start + validityMs, ca.notAfter);
  if (notAfter <= notBefore)
    throw new CertificateRequestError(
      'validity',
      `empty validity window ${new Date(notBefore).toISOString()} .. ${new Date(notAfter).toISOString()} (the CA is valid until ${new Date(ca.notAfter).toISOString()})`,
    );
  try {
    return await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: req.subject,
        issuer: ca.subjectName,
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
        publicKey: req.spki,
        signingKey: ca.signingKey,
        signingAlgorithm: ca.signingAlgorithm,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(req.keyUsage, true),
          new x509.ExtendedKeyUsageExtension([req.extendedKeyUsage], false),
          await x509.SubjectKeyIdentifierExtension.create(req.spki, false, pkiCrypto),
          ...(ca.keyId ? [new x509.AuthorityKeyIdentifierExtension(ca.keyId, false)] : []),
          ...req.extra,
        ],
      },
      pkiCrypto,
    );
  } catch (err) {
    throw new OperatorError(
      'PKI',
      `cannot sign a certificate: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
