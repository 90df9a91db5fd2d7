/**
 * The lab's network, in the host's kernel: a bridge (the underlay) on `198.18.<slot>.0/24`,
 * one network namespace per node with its own address on it, and routes between the nodes'
 * pod CIDRs (`10.<slot>.<i>.0/24`, IPv4 only; see docs/lab.md).
 *
 * Every kernel object a lab creates carries its slot in its name (`plab<slot>…`), so `down`
 * can sweep whatever a crashed lab left behind by name alone. The slot is taken atomically:
 * creating the bridge `plab<slot>` fails when another lab holds it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { LabError } from './labError.js';

const run = promisify(execFile);

/** Where named network namespaces live. */
export const NETNS_DIR = '/var/run/netns';

/** The prefix of every kernel object of the lab in `slot`. */
export function slotPrefix(slot: number): string {
  return `plab${slot}`;
}

/** The underlay bridge of a slot (the host's end of the underlay, address `.1`). */
export function bridgeName(slot: number): string {
  return slotPrefix(slot);
}

/** The host's address on the underlay (where the operator listens). */
export function hostAddress(slot: number): string {
  return `198.18.${slot}.1`;
}

/** Node `index`'s (1-based) address on the underlay. */
export function nodeAddress(slot: number, index: number): string {
  return `198.18.${slot}.${10 + index}`;
}

/** Node `index`'s pod CIDR. */
export function podCidr(slot: number, index: number): string {
  return `10.${slot}.${index}.0/24`;
}

/** The network namespace of node `name` in `slot`. */
export function nodeNetns(slot: number, name: string): string {
  return `${slotPrefix(slot)}-${name}`;
}

/** Runs `ip` synchronously (set-up and teardown steps). */
export function ipSync(...args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string };
    throw new LabError('NETWORK', `ip ${args.join(' ')}: ${(e.stderr ?? String(err)).trim()}`, {
      cause: err,
    });
  }
}

/** Runs `ip` without blocking the event loop. */
export async function ipAsync(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { encoding: 'utf8' })).stdout;
  } catch (err) {
    const e = err as { stderr?: string };
    throw new LabError('NETWORK', `ip ${args.join(' ')}: ${(e.stderr ?? String(err)).trim()}`, {
      cause: err,
    });
  }
}

/**
 * Takes the first free slot in `[first, 250)`: creates and brings up its bridge with the
 * host's underlay address. Throws `NETWORK` when every slot is taken.
 */
export function takeSlot(first = 1): number {
  for (let slot = first; slot < 250; slot++) {
    try {
      execFileSync('ip', ['link', 'add', bridgeName(slot), 'type', 'bridge'], { stdio: 'ignore' });
    } catch {
      continue; // held by another lab (or a leftover: `lab down` sweeps it)
    }
    ipSync('addr', 'add', `${hostAddress(slot)}/24`, 'dev', bridgeName(slot));
    ipSync('link', 'set', bridgeName(slot), 'up');
    return slot;
  }
  throw new LabError('NETWORK', 'no free lab slot: bridges plab1…plab249 all exist');
}

/** A node's place on the underlay. */
export interface NodePlacement {
  readonly name: string;
  /** 1-based. */
  readonly index: number;
}

/**
 * Creates node `index`'s namespace, plugs it into the underlay as `eth0` with its address,
 * turns forwarding on, and routes every other node's pod CIDR via that node's address.
 */
export function createNodeNetwork(
  slot: number,
  node: NodePlacement,
  all: readonly NodePlacement[],
): string {
  const ns = nodeNetns(slot, node.name);
  const hostEnd = `${slotPrefix(slot)}h${node.index}`;
  const nodeEnd = `${slotPrefix(slot)}n${node.index}`;
  ipSync('netns', 'add', ns);
  ipSync('-n', ns, 'link', 'set', 'lo', 'up');
  ipSync('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nodeEnd, 'netns', ns);
  ipSync('link', 'set', hostEnd, 'master', bridgeName(slot), 'up');
  ipSync('-n', ns, 'link', 'set', nodeEnd, 'name', 'eth0');
  ipSync('-n', ns, 'addr', 'add', `${nodeAddress(slot, node.index)}/24`, 'dev', 'eth0');
  ipSync('-n', ns, 'link', 'set', 'eth0', 'up');
  ipSync('netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  for (const other of all) {
    if (other.index === node.index) continue;
    ipSync(
      '-n',
      ns,
      'route',
      'add',
      podCidr(slot, other.index),
      'via',
      nodeAddress(slot, other.index),
      'dev',
      'eth0',
    );
  }
  return ns;
}

/** Network namespaces whose name starts with the slot's prefix. */
export function slotNamespaces(slot: number): string[] {
  const prefix = `${slotPrefix(slot)}-`;
  try {
    return readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Host links whose name starts with the slot's prefix (the bridge and the underlay veths). */
export function slotLinks(slot: number): string[] {
  const out = ipSync('-j', 'link', 'show');
  const links = JSON.parse(out) as { ifname: string }[];
  const p = slotPrefix(slot);
  return links
    .map((l) => l.ifname)
    .filter((n) => n === p || n.startsWith(`${p}h`) || n.startsWith(`${p}n`));
}

/**
 * Removes every namespace and host link of the slot (pods' namespaces first, so their veths
 * go with them). Idempotent. Returns what it removed.
 */
export function sweepSlot(slot: number): { namespaces: number; links: number } {
  const namespaces = slotNamespaces(slot);
  // Pod namespaces (`plab<slot>-p…`) before node namespaces, then the host links.
  namespaces.sort((a, b) => Number(b.includes('-p-')) - Number(a.includes('-p-')));
  for (const ns of namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      rmSync(`${NETNS_DIR}/${ns}`, { force: true });
    }
  }
  const links = slotLinks(slot);
  for (const l of links) {
    try {
      execFileSync('ip', ['link', 'del', l], { stdio: 'ignore' });
    } catch {
      // went with its peer
    }
  }
  return { namespaces: namespaces.length, links: links.length };
}
