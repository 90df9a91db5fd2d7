/**
 * The harness's error class. Every failure carries a `code` from a closed set and keeps the
 * underlying `cause`; messages name the binary, the file or the command involved.
 */

/** What went wrong, as a closed set. */
export type ControlPlaneErrorCode =
  /** A binary (etcd, kube-apiserver, kubectl, openssl) is missing or could not be built. */
  | 'MISSING_BINARY'
  /** Creating the certificates and keys failed. */
  | 'PKI'
  /** A process exited or failed before it became ready. */
  | 'START_FAILED'
  /** A process did not become ready, or did not exit, in time. */
  | 'TIMEOUT'
  /** A kubectl command exited non-zero (from `kubectlOk`). */
  | 'KUBECTL'
  /** The control plane was used after `stop()`. */
  | 'STOPPED';

/** An error raised by the control-plane harness. */
export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
  constructor(
    readonly code: ControlPlaneErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
