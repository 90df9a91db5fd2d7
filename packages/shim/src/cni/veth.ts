/**
 * The pod's veth pair: creating and configuring both ends, deleting it, and checking it.
 * Runs in the node's network namespace (the caller's) and reaches into the pod's with
 * `ip -n <name>`.
 *
 * Pod addresses carry the subnet's prefix length but are added with `noprefixroute`: the
 * pod gets no on-link subnet route, so all its traffic, also to pods on the same node,
 * goes through the default route to the host veth (IPv6 has no proxy ARP, so an on-link
 * route would leave same-node pod-to-pod IPv6 unanswered).
 */
import { formatAddress, parseAddress } from '@palisade/core';
import type { Address, Prefix } from '@palisade/core';
import { writeFileSync } from 'node:fs';
import { CniError, messageOf } from './errors.js';
import { GATEWAY_V4, GATEWAY_V6 } from './gateway.js';
import { findLink, nsArgs } from './ip.js';
import type { IpRunner, LinkInfo } from './ip.js';

/**
 * Writes one sysctl, given its path under `/proc/sys` with `/` separators (interface names
 * may hold dots), e.g. `net/ipv4/conf/pal0123456789ab/proxy_arp`. Throws {@link CniError}.
 */
export type SysctlWriter = (path: string, value: string) => void;

/** The kernel access veth management needs. */
export interface LinkDeps {
  readonly ip: IpRunner;
  readonly sysctl: SysctlWriter;
}

/** The veth pair of one pod interface. */
export interface VethSpec {
  /** Host-side name (see `hostVethName`). */
  readonly hostIf: string;
  /** Name inside the pod (`CNI_IFNAME`). */
  readonly podIf: string;
  /** The pod's netns, as `ip -n` takes it. */
  readonly netnsName: string;
  readonly mtu: number;
  /** The pod's addresses with the subnets they come from. */
  readonly addresses: readonly { readonly subnet: Prefix; readonly address: Address }[];
}

/** What setting up the veth pair produced. */
export interface VethOutcome {
  readonly hostMac: string;
  readonly hostIfIndex: number;
  readonly podMac: string;
}

/** A {@link SysctlWriter} writing `/proc/sys` of the current netns. */
export const procSysctl: SysctlWriter = (path, value) => {
  const file = `/proc/sys/${path}`;
  try {
    writeFileSync(file, value);
  } catch (err) {
    throw new CniError('LinkSetupFailed', `sysctl /proc/sys/${path}=${value}: ${messageOf(err)}`, {
      cause: err,
    });
  }
};

function mustFind(deps: LinkDeps, name: string, netnsName?: string): LinkInfo {
  const l = findLink(deps.ip, name, netnsName);
  if (!l) {
    const where = netnsName === undefined ? 'node netns' : `netns ${netnsName}`;
    throw new CniError('LinkSetupFailed', `${name} vanished from the ${where} during setup`);
  }
  return l;
}

/**
 * Creates the veth pair (the pod end directly inside the pod's netns, under its final
 * name) and configures both ends. On failure the caller deletes the host end, which
 * removes the pod end, its addresses and the host routes with it.
 */
export function setUpVeth(deps: LinkDeps, spec: VethSpec): VethOutcome {
  const { ip } = deps;
  const { hostIf, podIf, netnsName } = spec;
  const mtu = String(spec.mtu);
  const pod = nsArgs(netnsName);
  ip([
    'link',
    'add',
    hostIf,
    'mtu',
    mtu,
    'type',
    'veth',
    'peer',
    'name',
    podIf,
    'mtu',
    mtu,
    'netns',
    netnsName,
  ]);

  // Host end. 169.254.1.1 (the pod's IPv4 gateway) is an address of every host veth, so
  // the pod's ARP for it is answered even on a node with no default route; proxy ARP (it
  // needs forwarding on the interface) stays on for addresses the node routes elsewhere.
  // fe80::1 is the pod's IPv6 gateway.
  deps.sysctl(`net/ipv4/conf/${hostIf}/proxy_arp`, '1');
  deps.sysctl(`net/ipv4/neigh/${hostIf}/proxy_delay`, '0');
  deps.sysctl(`net/ipv4/conf/${hostIf}/forwarding`, '1');
  ip(['link', 'set', 'dev', hostIf, 'up']);
  ip(['addr', 'add', `${GATEWAY_V4}/32`, 'dev', hostIf, 'scope', 'link']);
  ip(['addr', 'add', `${GATEWAY_V6}/64`, 'dev', hostIf, 'nodad']);

  // Pod end.
  ip([...pod, 'link', 'set', 'dev', 'lo', 'up']);
  ip([...pod, 'link', 'set', 'dev', podIf, 'up']);
  for (const { subnet, address } of spec.addresses) {
    const cidr = `${formatAddress(address)}/${subnet.len}`;
    const v6 = address.family === 6 ? ['nodad'] : [];
    ip([...pod, 'addr', 'add', cidr, 'dev', podIf, ...v6, 'noprefixroute']);
  }
  for (const { address } of spec.addresses) {
    if (address.family === 4) {
      ip([...pod, 'route', 'add', 'default', 'via', GATEWAY_V4, 'dev', podIf, 'onlink']);
    } else {
      ip([...pod, '-6', 'route', 'add', 'default', 'via', GATEWAY_V6, 'dev', podIf]);
    }
  }

  // Host routes to the pod.
  for (const { address } of spec.addresses) {
    const fam = address.family === 4 ? '-4' : '-6';
    const len = address.family === 4 ? 32 : 128;
    ip([fam, 'route', 'add', `${formatAddress(address)}/${len}`, 'dev', hostIf]);
  }

  const host = mustFind(deps, hostIf);
  const podLink = mustFind(deps, podIf, netnsName);
  return { hostMac: host.address, hostIfIndex: host.ifindex, podMac: podLink.address };
}

function isLinkLocal(a: Address): boolean {
  return a.family === 6 && a.addr >> 118n === 0x3fan; // fe80::/10
}

/** Deletes the host end (and with it the pod end); false when it did not exist. */
export function deleteHostVeth(deps: LinkDeps, hostIf: string): boolean {
  if (!findLink(deps.ip, hostIf)) return false;
  deps.ip(['link', 'del', 'dev', hostIf]);
  return true;
}

/**
 * Verifies the pair as ADD left it: the host end exists and is up, the pod end exists in
 * the pod's netns, is up and holds exactly the expected addresses (among its global ones).
 * Throws code 103 naming what differs.
 */
export function checkVeth(
  deps: LinkDeps,
  spec: Pick<VethSpec, 'hostIf' | 'podIf' | 'netnsName'>,
  expected: readonly Address[],
): void {
  const fail = (msg: string): CniError => new CniError('CheckFailed', msg);
  const host = findLink(deps.ip, spec.hostIf);
  if (!host) throw fail(`host veth ${spec.hostIf} does not exist`);
  if (!host.flags.includes('UP')) throw fail(`host veth ${spec.hostIf} is down`);
  let pod: LinkInfo | undefined;
  try {
    pod = findLink(deps.ip, spec.podIf, spec.netnsName);
  } catch (err) {
    throw new CniError('CheckFailed', `cannot inspect netns ${spec.netnsName}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  if (!pod) throw fail(`interface ${spec.podIf} does not exist in netns ${spec.netnsName}`);
  if (!pod.flags.includes('UP'))
    throw fail(`interface ${spec.podIf} in netns ${spec.netnsName} is down`);
  // Compared in canonical form: iproute2 and formatAddress may spell IPv6 differently.
  const have = new Set(
    pod.addresses
      .map((a) => parseAddress(a.local))
      .filter((a): a is Address => a !== undefined && !isLinkLocal(a))
      .map(formatAddress),
  );
  const want = new Set(expected.map(formatAddress));
  const missing = [...want].filter((a) => !have.has(a));
  const extra = [...have].filter((a) => !want.has(a));
  if (missing.length > 0 || extra.length > 0) {
    throw fail(
      `interface ${spec.podIf} in netns ${spec.netnsName} has addresses [${[...have].join(', ')}], expected [${[...want].join(', ')}]`,
    );
  }
}
