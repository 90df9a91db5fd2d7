/**
 * Errors of the CNI plugin. Every failure the plugin reports is a `CniError`: a `code`
 * from a closed set, which maps to the numeric code of the CNI error result (spec 1.0.0,
 * "Error"), a message naming the field or step, and the `cause` kept.
 */

/**
 * The closed set of reasons a CNI request fails. The first group are the well-known
 * codes of the CNI spec; the second are palisade-cni's own (100 and above).
 */
export type CniErrorCode =
  | 'IncompatibleVersion'
  | 'UnsupportedField'
  | 'UnknownContainer'
  | 'InvalidEnvironment'
  | 'IoFailure'
  | 'DecodeFailure'
  | 'InvalidNetworkConfig'
  | 'TryAgainLater'
  | 'AddressExhausted'
  | 'UnsupportedNetns'
  | 'LinkSetupFailed'
  | 'CheckFailed'
  | 'IpamStoreFailed'
  | 'Internal';

/** The numeric CNI error code of each reason, as printed in the error result. */
export const CNI_ERROR_NUMBERS: Readonly<Record<CniErrorCode, number>> = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  AddressExhausted: 100,
  UnsupportedNetns: 101,
  LinkSetupFailed: 102,
  CheckFailed: 103,
  IpamStoreFailed: 104,
  Internal: 199,
};

/** A CNI request that cannot be carried out. */
export class CniError extends Error {
  override readonly name = 'CniError';
  /** Why it failed. */
  readonly code: CniErrorCode;
  /** Longer explanation for the error result's `details` (e.g. a command's stderr). */
  readonly details: string;

  constructor(
    code: CniErrorCode,
    message: string,
    options?: { cause?: unknown; details?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details ?? '';
  }

  /** The numeric code printed in the CNI error result. */
  get number(): number {
    return CNI_ERROR_NUMBERS[this.code];
  }
}

/** The message of any thrown value, without a stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
