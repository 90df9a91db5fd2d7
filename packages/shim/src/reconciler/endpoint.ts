/**
 * A local endpoint: a pod's network interface on this node, as the CNI plugin registered
 * it with the shim.
 */

/** An endpoint registered by the CNI plugin. */
export interface LocalEndpoint {
  /** The container runtime's sandbox id (CNI_CONTAINERID). */
  readonly containerId: string;
  /** `namespace/name` of the pod. */
  readonly pod: string;
  /** The pod's network namespace path (CNI_NETNS). */
  readonly netns: string;
  /** The interface name inside the pod (CNI_IFNAME). */
  readonly ifName: string;
  /** The host side of the veth pair, where the programs are attached. */
  readonly hostIfName: string;
  readonly hostIfIndex: number;
  /** The pod's addresses (no prefix length). */
  readonly ips: readonly string[];
  readonly mac?: string;
}
