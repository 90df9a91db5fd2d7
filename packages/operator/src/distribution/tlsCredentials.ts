/**
 * Server TLS credentials that ask every client for a certificate but let the handshake
 * succeed without one: the Certificates service (bootstrap) is called before a node has
 * a certificate, and integrators may authenticate with a bearer token instead. Every
 * handler that needs a node checks the certificate itself (`checkPeer`), so refusals are
 * answered with a status and counted, not lost in a failed handshake.
 */
import * as grpc from '@grpc/grpc-js';

type Provider = grpc.experimental.CertificateProvider;

/**
 * A certificate provider with fixed contents. It answers a new listener in a microtask, not
 * synchronously: grpc-js (1.14) registers the provider's listeners before the server's own
 * watcher, so an immediate answer is lost and the server drops every connection "due to
 * unloaded credentials".
 */
function staticProvider(caPem: string, certPem: string, keyPem: string): Provider {
  const ca = { caCertificate: Buffer.from(caPem) };
  const identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) };
  return {
    addCaCertificateListener: (l) => queueMicrotask(() => l(ca)),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (l) => queueMicrotask(() => l(identity)),
    removeIdentityCertificateListener: () => undefined,
  };
}

/** TLS server credentials: the server's certificate, client certificates requested (not required). */
export function serverCredentials(
  caPem: string,
  certPem: string,
  keyPem: string,
): grpc.ServerCredentials {
  const p = staticProvider(caPem, certPem, keyPem);
  // The provider serves both the CA and the identity, so the argument order does not matter.
  return grpc.experimental.createCertificateProviderServerCredentials(p, p, false);
}
