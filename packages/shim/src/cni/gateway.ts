/**
 * The pod's gateways. Pods route everything through the host veth: IPv4 via `169.254.1.1`
 * and IPv6 via `fe80::1`, both configured on the host side of every pod's veth.
 */
import type { Family } from '@palisade/core';

/** The IPv4 default gateway of every pod (a link-scoped address on the host veth). */
export const GATEWAY_V4 = '169.254.1.1';

/** The IPv6 default gateway of every pod (a link-local address on the host veth). */
export const GATEWAY_V6 = 'fe80::1';

/** The gateway of one family. */
export function gatewayOf(family: Family): string {
  return family === 4 ? GATEWAY_V4 : GATEWAY_V6;
}

/** The default route's destination of one family. */
export function defaultDst(family: Family): string {
  return family === 4 ? '0.0.0.0/0' : '::/0';
}
