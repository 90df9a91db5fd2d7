/**
 * The error of the integrators' API: a request it cannot answer, with the gRPC status it
 * is answered with. Anything else a handler throws is a bug and is answered INTERNAL.
 */
import * as grpc from '@grpc/grpc-js';

/** Why a request was refused, as a closed set. */
export type IntegrationsErrorCode =
  /** This operator is a standby; the message names the leader. */
  | 'NOT_LEADER'
  /** The pod or identity asked about is not in the compiled state. */
  | 'NOT_FOUND'
  /** A field of the request is malformed (the message names it). */
  | 'INVALID_ARGUMENT'
  /** The request is well formed but the state cannot answer it (a pod without an address). */
  | 'FAILED_PRECONDITION';

const STATUS: Readonly<Record<IntegrationsErrorCode, grpc.status>> = {
  NOT_LEADER: grpc.status.UNAVAILABLE,
  NOT_FOUND: grpc.status.NOT_FOUND,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
};

/** A refused request. */
export class IntegrationsError extends Error {
  override readonly name = 'IntegrationsError';
  constructor(
    readonly code: IntegrationsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The gRPC status this refusal is answered with. */
  get status(): grpc.status {
    return STATUS[this.code];
  }
}

/** A gRPC status object for any error: its own status for an IntegrationsError, else INTERNAL. */
export function statusOf(err: unknown): grpc.StatusObject {
  if (err instanceof IntegrationsError)
    return { code: err.status, details: err.message, metadata: new grpc.Metadata() };
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: grpc.status.INTERNAL,
    details: `internal error: ${message}`,
    metadata: new grpc.Metadata(),
  };
}
