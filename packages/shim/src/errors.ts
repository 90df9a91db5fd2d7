/**
 * The shim's error class. Every failure the shim reports carries a `code` from a closed
 * set, a message a node operator can act on, and the underlying `cause`.
 */

/** What went wrong, as a closed set. */
export type ShimErrorCode =
  /** bpffs is not mounted where the pins go. */
  | 'BPFFS_MISSING'
  /** The kernel lacks something the datapath needs (a map type, clsact, BTF…). */
  | 'KERNEL_FEATURE'
  /** The native addon or the eBPF object was not built. */
  | 'NATIVE_MISSING'
  /** A pinned map from an earlier run has a different shape. */
  | 'MAP_MISMATCH'
  /** The desired state does not fit a map; nothing was changed. */
  | 'MAP_OVERFLOW'
  /** A kernel call failed. */
  | 'KERNEL'
  /** A request (from the CNI plugin or the CLI) is malformed. */
  | 'INVALID_REQUEST'
  /** No such endpoint. */
  | 'NOT_FOUND'
  /** The policy source could not be read or compiled. */
  | 'SOURCE'
  /** No compiled state yet (waiting for the operator's first snapshot); nothing was changed. */
  | 'NOT_READY'
  /** The TLS material for the operator is unreadable or wrong, or its bootstrap failed. */
  | 'CREDENTIALS';

/** An error raised by the shim. */
export class ShimError extends Error {
  override readonly name = 'ShimError';
  constructor(
    readonly code: ShimErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
