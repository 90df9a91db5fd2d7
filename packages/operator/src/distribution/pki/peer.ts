/**
 * The check of a gRPC client's certificate. The server asks for a client certificate but
 * does not make TLS reject a missing or untrusted one (so a shim without a certificate can
 * still call `Certificates.Issue`); every other handler calls {@link checkPeer} first.
 *
 * The TLS handshake has already proved that the client holds the private key of the
 * certificate it presented; what is left is to check that the certificate is ours: signed
 * by the CA, inside its validity window, a client-auth leaf of `O=palisade:nodes` whose
 * common name is a node name.
 */
// @peculiar/x509 needs a Reflect metadata polyfill loaded before it (it uses tsyringe).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { CertificateAuthority } from './ca.js';
import { NODE_ORGANIZATION, nodeNameProblem } from './certificates.js';

/** Why a peer was refused. */
export type PeerRefusal =
  /** The client presented no certificate. */
  | 'no-certificate'
  /** The certificate is unparseable, or not signed by the CA. */
  | 'untrusted'
  /** The certificate's validity ended. */
  | 'expired'
  /** The certificate's validity has not started. */
  | 'not-yet-valid'
  /** Signed by the CA, but not a node's client certificate. */
  | 'not-a-node';

/** The outcome of {@link checkPeer}. */
export type PeerCheck =
  | { readonly ok: true; readonly node: string }
  | { readonly ok: false; readonly reason: PeerRefusal };

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/**
 * Checks the certificate a TLS client presented (`call.getAuthContext()?.sslPeerCertificate`
 * in grpc-js; Node gives `{}` when there is none). On success, the node it belongs to.
 */
export function checkPeer(
  ca: CertificateAuthority,
  peer: PeerCertificate | undefined | null,
  nowMs: number,
): PeerCheck {
  const raw = (peer as Partial<PeerCertificate> | undefined | null)?.raw;
  if (!raw || raw.length === 0) return refuse('no-certificate');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(raw);
  } catch {
    return refuse('untrusted');
  }
  // Signature first: nothing else in the certificate is looked at before it is trusted.
  if (!cert.checkIssued(ca.certificate) || !cert.verify(ca.publicKey)) return refuse('untrusted');
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(raw);
  } catch {
    return refuse('untrusted');
  }
  if (nowMs < parsed.notBefore.getTime()) return refuse('not-yet-valid');
  if (nowMs > parsed.notAfter.getTime()) return refuse('expired');
  if (cert.ca) return refuse('not-a-node');
  const eku = cert.keyUsage as readonly string[] | undefined;
  if (!eku?.includes(CLIENT_AUTH)) return refuse('not-a-node');
  const orgs = parsed.subjectName.getField('O');
  const cns = parsed.subjectName.getField('CN');
  if (orgs.length !== 1 || orgs[0] !== NODE_ORGANIZATION) return refuse('not-a-node');
  const node = cns.length === 1 ? cns[0] : undefined;
  if (node === undefined || nodeNameProblem(node) !== undefined) return refuse('not-a-node');
  return { ok: true, node };
}

function refuse(reason: PeerRefusal): PeerCheck {
  return { ok: false, reason };
}
