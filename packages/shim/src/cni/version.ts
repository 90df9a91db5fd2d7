/**
 * The CNI spec versions palisade-cni speaks.
 */

/** The spec versions this plugin accepts in a network configuration and answers in. */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0'] as const;

/** One of {@link SUPPORTED_VERSIONS}. */
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The newest supported version: used for VERSION and when the request's version is unknown. */
export const CURRENT_VERSION: CniVersion = '1.0.0';

/** True when `v` is a version this plugin supports. */
export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}
