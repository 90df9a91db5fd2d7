/** A failed call to the kube-apiserver, with its HTTP status and the API's reason. */
import { OperatorError } from '../errors.js';

/** An error returned by the kube-apiserver (or the connection to it). */
export class KubeApiError extends OperatorError {
  constructor(
    /** HTTP status; 0 when the request never got an answer (connection refused, timeout). */
    readonly status: number,
    /** The Status object's `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`…). */
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(status === 410 ? 'GONE' : 'KUBE', message, options);
  }

  /** True for 404. */
  get notFound(): boolean {
    return this.status === 404;
  }
  /** True for 409 AlreadyExists. */
  get alreadyExists(): boolean {
    return this.status === 409 && this.reason === 'AlreadyExists';
  }
  /** True for 409 Conflict (stale resourceVersion) — and 409 on a failed precondition. */
  get conflict(): boolean {
    return this.status === 409 && this.reason !== 'AlreadyExists';
  }
  /** True when a retry may succeed: no answer, 429, or 5xx. */
  get retriable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** True if `err` is a KubeApiError matching `pred`. */
export function isKubeError(err: unknown, pred: (e: KubeApiError) => boolean): boolean {
  return err instanceof KubeApiError && pred(err);
}
