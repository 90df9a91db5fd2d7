/**
 * Errors of the CLI. `UsageError` and `InputError` end the command with exit code 2 and a
 * one-line message; nothing is printed to stdout.
 */

/** The closed set of CLI failure reasons. */
export type CliErrorCode = 'Usage' | 'UnreadableInput' | 'NotAvailable' | 'Unreachable';

/** A failure the user can fix by changing the command line or the input files. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
