/**
 * Names palisade-cni gives to host-side objects.
 */
import { createHash } from 'node:crypto';

/** Prefix of every host-side veth palisade-cni creates. */
export const HOST_VETH_PREFIX = 'pal';

/**
 * The host-side veth name of a container's interface: `pal` + the first 12 hex digits of
 * sha256(containerId + ifName). 15 characters, the Linux limit, and stable so DEL finds it.
 */
export function hostVethName(containerId: string, ifName: string): string {
  const hex = createHash('sha256')
    .update(containerId + ifName)
    .digest('hex');
  return HOST_VETH_PREFIX + hex.slice(0, 12);
}
