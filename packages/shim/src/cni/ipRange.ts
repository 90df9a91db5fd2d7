/**
 * Which addresses of a subnet palisade-cni may assign, and in which order: the pure part
 * of IPAM. The network address and the first host address (`.1`, `::1`, reserved for a
 * gateway) are never assigned, nor is the IPv4 broadcast address.
 */
import { familyBits } from '@palisade/core';
import type { Prefix } from '@palisade/core';

/** The assignable addresses of a subnet, both ends included. */
export interface UsableRange {
  readonly first: bigint;
  readonly last: bigint;
}

/** The assignable addresses of `subnet` (empty, `first > last`, for a /31 or longer). */
export function usableRange(subnet: Prefix): UsableRange {
  const size = 1n << BigInt(familyBits(subnet.family) - subnet.len);
  const first = subnet.addr + 2n;
  const last = subnet.addr + size - (subnet.family === 4 ? 2n : 1n);
  return { first, last };
}

/** How many addresses of `subnet` can be assigned. */
export function usableCount(subnet: Prefix): bigint {
  const { first, last } = usableRange(subnet);
  return last >= first ? last - first + 1n : 0n;
}

/** True when `addr` (of the subnet's family) may be assigned from `subnet`. */
export function isUsable(subnet: Prefix, addr: bigint): boolean {
  const { first, last } = usableRange(subnet);
  return addr >= first && addr <= last;
}

/**
 * The order in which to try addresses: round-robin, starting after `lastReserved` (when
 * it is an assignable address of the subnet) and wrapping around once, so each
 * assignable address is yielded exactly once.
 */
export function* candidateOrder(subnet: Prefix, lastReserved?: bigint): Generator<bigint> {
  const { first, last } = usableRange(subnet);
  if (last < first) return;
  const start =
    lastReserved !== undefined && lastReserved >= first && lastReserved < last
      ? lastReserved + 1n
      : first;
  for (let a = start; a <= last; a++) yield a;
  for (let a = first; a < start; a++) yield a;
}
