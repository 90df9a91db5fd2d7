/**
 * Typed errors of the core. Every error has a `code` from a closed set, names the
 * object and the field it is about, and keeps its `cause`.
 */

/** The closed set of reasons a policy or object is refused. */
export type PolicyErrorCode =
  | 'InvalidObject'
  | 'InvalidSelector'
  | 'InvalidCIDR'
  | 'InvalidPort'
  | 'InvalidPortRange'
  | 'InvalidRegex'
  | 'InvalidLabel'
  | 'UnsupportedKind';

/** A reference to the Kubernetes object an error is about, as `Kind ns/name`. */
export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string | undefined;
  readonly name: string;
}

/** Formats an object reference the way kubectl users read it. */
export function formatRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

/**
 * A policy (or pod, or namespace) that cannot be used. The message always names the
 * object and the field (`spec.ingress[0].from[1].ipBlock.cidr`), so that a user can
 * find the mistake without reading our code.
 */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  /** Why it was refused. */
  readonly code: PolicyErrorCode;
  /** The object, when known. */
  readonly object: ObjectRef | undefined;
  /** Dotted path of the offending field inside the object (e.g. `spec.podSelector`). */
  readonly field: string;
  /** The reason without the object and field prefix. */
  readonly reason: string;

  constructor(
    code: PolicyErrorCode,
    field: string,
    reason: string,
    object?: ObjectRef,
    options?: { cause?: unknown },
  ) {
    super(`${object ? formatRef(object) + ': ' : ''}${field}: ${reason}`, options);
    this.code = code;
    this.field = field;
    this.reason = reason;
    this.object = object;
  }

  /** The same error attributed to an object (used when parsing happens before the name is known). */
  withObject(object: ObjectRef): PolicyError {
    return new PolicyError(this.code, this.field, this.reason, object, { cause: this.cause });
  }
}

/** The closed set of reasons the engine refuses an operation (a programming or input-order error). */
export type EngineErrorCode = 'UnknownObject' | 'IdentityExhausted' | 'InvalidState';

/** An operation the engine cannot carry out in its current state. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  /** Why it failed. */
  readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
