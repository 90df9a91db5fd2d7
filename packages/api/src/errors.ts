/**
 * The error of this package: a wire message that cannot be turned into the core's types.
 */

/** Why a wire message was refused. */
export type WireErrorCode = 'MALFORMED' | 'INVALID_FIELD';

/** A message that could not be decoded or converted. The message names the field. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: WireErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
