/**
 * Running iproute2's `ip` and reading its JSON output. ADD, DEL and CHECK are not a hot
 * path, so a synchronous child process per command is fine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CniError, messageOf } from './errors.js';

/** Runs `ip` with the given arguments and returns its stdout; throws {@link CniError}. */
export type IpRunner = (args: readonly string[]) => string;

/** One address of a link, as `ip -j addr show` prints it. */
export interface LinkAddress {
  readonly family: 'inet' | 'inet6';
  readonly local: string;
  readonly prefixlen: number;
}

/** One link, as `ip -j addr show` prints it (the fields palisade-cni reads). */
export interface LinkInfo {
  readonly ifindex: number;
  readonly ifname: string;
  readonly address: string;
  readonly mtu: number;
  readonly flags: readonly string[];
  readonly addresses: readonly LinkAddress[];
}

/** Where `ip` is looked for when PATH does not find it (runtimes may run plugins with a bare environment). */
const IP_CANDIDATES = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];

/** The `ip` binary to run: the first of the usual locations that exists, else `ip` from PATH. */
export function findIpBinary(exists: (p: string) => boolean = existsSync): string {
  return IP_CANDIDATES.find((p) => exists(p)) ?? 'ip';
}

/** An {@link IpRunner} that executes the real `ip`, with its stderr in the error. */
export function systemIpRunner(binary: string = findIpBinary()): IpRunner {
  return (args) => {
    try {
      return execFileSync(binary, args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 30_000,
      });
    } catch (err) {
      const stderr = (err as { stderr?: unknown }).stderr;
      const detail =
        typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : messageOf(err);
      throw new CniError('LinkSetupFailed', `ip ${args.join(' ')}: ${detail}`, {
        cause: err,
        details: detail,
      });
    }
  };
}

/** `ip` arguments that select a netns (`-n <name>`) or the current one. */
export function nsArgs(netnsName: string | undefined): string[] {
  return netnsName === undefined ? [] : ['-n', netnsName];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Parses the output of `ip -j addr show`. Throws code 102 when it is not what iproute2 prints. */
export function parseIpAddrJson(text: string): LinkInfo[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text === '' ? '[]' : text);
  } catch (err) {
    throw new CniError(
      'LinkSetupFailed',
      `cannot parse \`ip -j addr show\` output: ${messageOf(err)}`,
      {
        cause: err,
      },
    );
  }
  if (!Array.isArray(raw)) {
    throw new CniError('LinkSetupFailed', '`ip -j addr show` did not print an array');
  }
  const out: LinkInfo[] = [];
  for (const l of raw as unknown[]) {
    if (!isObject(l) || typeof l['ifname'] !== 'string' || typeof l['ifindex'] !== 'number')
      continue;
    const infos = Array.isArray(l['addr_info']) ? (l['addr_info'] as unknown[]) : [];
    const addresses: LinkAddress[] = [];
    for (const a of infos) {
      if (!isObject(a) || typeof a['local'] !== 'string' || typeof a['prefixlen'] !== 'number')
        continue;
      if (a['family'] !== 'inet' && a['family'] !== 'inet6') continue;
      addresses.push({ family: a['family'], local: a['local'], prefixlen: a['prefixlen'] });
    }
    out.push({
      ifindex: l['ifindex'],
      ifname: l['ifname'],
      address: typeof l['address'] === 'string' ? l['address'] : '',
      mtu: typeof l['mtu'] === 'number' ? l['mtu'] : 0,
      flags: Array.isArray(l['flags'])
        ? (l['flags'] as unknown[]).filter((f) => typeof f === 'string')
        : [],
      addresses,
    });
  }
  return out;
}

/**
 * The link called `name` in a netns (the current one when `netnsName` is undefined), or
 * undefined when there is none. Lists all links, so a missing link is not an error.
 */
export function findLink(ip: IpRunner, name: string, netnsName?: string): LinkInfo | undefined {
  return parseIpAddrJson(ip([...nsArgs(netnsName), '-j', 'addr', 'show'])).find(
    (l) => l.ifname === name,
  );
}
