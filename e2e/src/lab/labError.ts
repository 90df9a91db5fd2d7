/** The lab's one error class. */

/** Why a lab operation failed. */
export type LabErrorCode =
  /** Creating or removing a namespace, link or route failed. */
  | 'NETWORK'
  /** A part (operator, shim, pod) did not become ready in time. */
  | 'NOT_READY'
  /** No lab runs in the given directory, or one already does. */
  | 'STATE'
  /** Bad command-line input. */
  | 'USAGE'
  /** Running a command in a pod failed (no such pod, not realised here). */
  | 'EXEC';

/** An error of the lab, with a code from a closed set and the cause kept. */
export class LabError extends Error {
  override readonly name = 'LabError';
  readonly code: LabErrorCode;
  constructor(code: LabErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
