/**
 * The operator's error class. Every failure carries a `code` from a closed set, a message an
 * operator of the cluster can act on, and the underlying `cause`.
 */

/** What went wrong, as a closed set. */
export type OperatorErrorCode =
  /** The configuration (flags, kubeconfig, environment) is unusable. */
  | 'CONFIG'
  /** The kube-apiserver refused or failed a request (after retries where they apply). */
  | 'KUBE'
  /** A watch ended with 410 Gone: the informer must list again. */
  | 'GONE'
  /** The identity store (CRD or Redis) failed or holds something inconsistent. */
  | 'IDENTITY_STORE'
  /** No identity number is left to hand out. */
  | 'IDENTITY_EXHAUSTED'
  /** An object could not be turned into policy (the message names the field). */
  | 'INVALID_OBJECT'
  /** The certificate authority or a certificate could not be loaded, made or checked. */
  | 'PKI'
  /** A caller could not be authenticated or is not allowed what it asked for. */
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  /** The policy distribution server failed (bind, stream). */
  | 'DISTRIBUTION'
  /** The operation was cancelled because the operator is shutting down. */
  | 'SHUTDOWN';

/** An error raised by the operator. */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
