/**
 * Reserved identity numbers (design brief §2). 0 is the wildcard in policy maps.
 * 1–255 are kept for reserved use; cluster identities start at 256. Identities the
 * compiler derives locally (CIDR sets, pods inside policy CIDRs) have bit 31 set, so the
 * two ranges never meet: cluster identities may go up to 2^31 − 1.
 */

/** The reserved identities. */
export const Reserved = {
  Unknown: 0,
  Host: 1,
  World: 2,
  Unmanaged: 3,
  Health: 4,
  Init: 5,
  RemoteNode: 6,
  KubeAPIServer: 7,
} as const;

/** Name of each reserved identity, as shown to users. */
export const RESERVED_NAMES: Readonly<Record<number, string>> = {
  0: 'unknown',
  1: 'host',
  2: 'world',
  3: 'unmanaged',
  4: 'health',
  5: 'init',
  6: 'remote-node',
  7: 'kube-apiserver',
};

/** The first number handed to a cluster identity. */
export const FIRST_CLUSTER_IDENTITY = 256;
/** The last number a cluster identity may have. */
export const LAST_CLUSTER_IDENTITY = 2 ** 31 - 1;
/** The first number of locally derived identities (bit 31). */
export const FIRST_LOCAL_IDENTITY = 2 ** 31;
/** The last number of locally derived identities. */
export const LAST_LOCAL_IDENTITY = 2 ** 32 - 1;

/** True for 1–255. */
export function isReserved(id: number): boolean {
  return id >= 1 && id < FIRST_CLUSTER_IDENTITY;
}

/** True for identities derived locally by the compiler. */
export function isLocal(id: number): boolean {
  return id >= FIRST_LOCAL_IDENTITY;
}

/** Reserved identities that count as "inside the cluster" for the `cluster` entity. */
export const CLUSTER_RESERVED: readonly number[] = [
  Reserved.Host,
  Reserved.Unmanaged,
  Reserved.Health,
  Reserved.Init,
  Reserved.RemoteNode,
  Reserved.KubeAPIServer,
];
