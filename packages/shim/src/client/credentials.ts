/**
 * The shim's TLS material for the operator: the operator's CA, and a client certificate
 * whose common name is the node. Either from files (managed by someone else, re-read on
 * every connect so a rotation is picked up), or bootstrapped: a fresh EC P-256 key pair is
 * made here, its public key is signed by the operator's `Certificates.Issue` against a
 * service-account token, and a new one is obtained at 2/3 of the certificate's lifetime.
 * The private key never leaves the process.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { IssueRequest, IssueResponse__Output } from '@palisade/api';
import { ShimError } from '../errors.js';
import { systemClock, type Clock } from './clock.js';

/** What a channel to the operator is made of. */
export interface TlsMaterial {
  /** The operator's CA (PEM): the only roots the operator's certificate is checked against. */
  readonly ca: Buffer;
  /** The client's private key and certificate chain (PEM). */
  readonly key: Buffer;
  readonly cert: Buffer;
  /** When the certificate expires (Unix ms). */
  readonly notAfterMs: number;
  /** When to obtain a new one (Unix ms); absent when someone else manages it. */
  readonly renewAtMs?: number;
}

/** Where TLS material comes from. */
export interface CredentialSource {
  /** The material to connect with: the held one, or a new one when it is due or absent. */
  current(): Promise<TlsMaterial>;
  /** Obtains new material now (files: re-reads them). */
  renew(): Promise<TlsMaterial>;
}

/** Signs a public key into a client certificate (the `Certificates.Issue` call). */
export type Issuer = (request: IssueRequest, ca: Buffer) => Promise<IssueResponse__Output>;

async function read(what: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new ShimError('CREDENTIALS', `cannot read the ${what} ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Parses a certificate and checks it belongs to `key`; returns its validity (Unix ms). */
function checkCertificate(
  what: string,
  cert: Buffer | string,
  key: KeyObject,
): { notBefore: number; notAfter: number; subject: string } {
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new ShimError(
      'CREDENTIALS',
      `${what} is not a PEM certificate: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (!x.checkPrivateKey(key))
    throw new ShimError('CREDENTIALS', `${what} is not for the private key it came with`);
  return {
    notBefore: new Date(x.validFrom).getTime(),
    notAfter: new Date(x.validTo).getTime(),
    subject: x.subject,
  };
}

function privateKey(what: string, pem: Buffer | string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new ShimError(
      'CREDENTIALS',
      `${what} is not a PEM private key: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

/** Options of `FileCredentials`. */
export interface FileCredentialsOptions {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A client certificate and key from files; re-read (and checked) on every connect. */
export class FileCredentials implements CredentialSource {
  constructor(private readonly o: FileCredentialsOptions) {}

  /** Reads and checks the three files. Throws ShimError CREDENTIALS. */
  async current(): Promise<TlsMaterial> {
    const [ca, cert, key] = await Promise.all([
      read('CA file', this.o.caFile),
      read('certificate file', this.o.certFile),
      read('key file', this.o.keyFile),
    ]);
    const k = privateKey(`the key file ${this.o.keyFile}`, key);
    const { notAfter } = checkCertificate(`the certificate file ${this.o.certFile}`, cert, k);
    return { ca, cert, key, notAfterMs: notAfter };
  }

  /** Same as `current` (the files are renewed by whoever writes them). */
  renew(): Promise<TlsMaterial> {
    return this.current();
  }
}

/** Options of `BootstrapCredentials`. */
export interface BootstrapCredentialsOptions {
  /** The node the certificate is for (its common name). */
  readonly node: string;
  readonly caFile: string;
  /** A service-account token bound to this node's shim Pod; re-read for every request. */
  readonly tokenFile: string;
  /** The `Certificates.Issue` call (`grpcIssuer`). */
  readonly issue: Issuer;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Fraction of the lifetime after which a certificate is renewed (default 2/3). */
  readonly renewAt?: number;
}

const generateEcKeyPair = promisify(generateKeyPair);

/** Never renew sooner than this after an issue (a skewed clock would loop otherwise). */
const MIN_RENEW_DELAY_MS = 30_000;

/** A client certificate obtained with a service-account token, renewed before it expires. */
export class BootstrapCredentials implements CredentialSource {
  private held: TlsMaterial | undefined;
  private pending: Promise<TlsMaterial> | undefined;
  private readonly clock: Clock;

  constructor(private readonly o: BootstrapCredentialsOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /**
   * The held certificate, or a new one when none is held or it is due. When a due
   * renewal fails, the held certificate is returned while it is still valid.
   */
  async current(): Promise<TlsMaterial> {
    const h = this.held;
    if (h && h.renewAtMs !== undefined && this.clock.now() < h.renewAtMs) return h;
    try {
      return await this.renew();
    } catch (e) {
      if (h && this.clock.now() < h.notAfterMs) return h;
      throw e;
    }
  }

  /**
   * Makes a new key pair and has its public key signed. Concurrent calls share one
   * request. Throws ShimError CREDENTIALS (the held certificate stays in use).
   */
  renew(): Promise<TlsMaterial> {
    this.pending ??= this.issue().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async issue(): Promise<TlsMaterial> {
    const [ca, token] = await Promise.all([
      read('CA file', this.o.caFile),
      read('token file', this.o.tokenFile),
    ]);
    const { publicKey, privateKey: key } = await generateEcKeyPair('ec', {
      namedCurve: 'prime256v1',
    });
    const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    let response: IssueResponse__Output;
    try {
      response = await this.o.issue(
        { node: this.o.node, token: token.toString('utf8').trim(), publicKeyPem },
        ca,
      );
    } catch (e) {
      if (e instanceof ShimError) throw e;
      throw new ShimError('CREDENTIALS', `certificate bootstrap failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const cert = Buffer.from(response.certificatePem, 'utf8');
    const v = checkCertificate('the issued certificate', cert, key);
    if (!v.subject.split('\n').includes(`CN=${this.o.node}`))
      throw new ShimError(
        'CREDENTIALS',
        `the issued certificate is for ${JSON.stringify(v.subject)}, not CN=${this.o.node}`,
      );
    const now = this.clock.now();
    if (v.notAfter <= now)
      throw new ShimError(
        'CREDENTIALS',
        `the issued certificate expired at ${new Date(v.notAfter).toISOString()} (is this node's clock right?)`,
      );
    const fraction = this.o.renewAt ?? 2 / 3;
    const renewAtMs = Math.max(
      v.notBefore + fraction * (v.notAfter - v.notBefore),
      now + Math.min(MIN_RENEW_DELAY_MS, (v.notAfter - now) / 2),
    );
    this.held = {
      ca,
      cert,
      key: Buffer.from(key.export({ type: 'pkcs8', format: 'pem' })),
      notAfterMs: v.notAfter,
      renewAtMs,
    };
    return this.held;
  }
}
