/**
 * The CNI request's environment variables (spec 1.0.0, "Parameters"), parsed and
 * validated. Every message names the variable.
 */
import { CniError } from './errors.js';

/** The commands palisade-cni implements. */
export type SupportedCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** Commands of later spec versions, refused with a clear error rather than "unknown". */
export type UnsupportedCommand = 'STATUS' | 'GC';

/** Any command palisade-cni recognises. */
export type CniCommand = SupportedCommand | UnsupportedCommand;

/** The environment of an ADD, DEL or CHECK request. */
export interface CniEnv {
  readonly command: 'ADD' | 'DEL' | 'CHECK';
  /** `CNI_CONTAINERID`. */
  readonly containerId: string;
  /** `CNI_NETNS`, a path; always set for ADD and CHECK, may be absent for DEL. */
  readonly netns: string | undefined;
  /** Name of the pod's netns for `ip -n`, derived from {@link CniEnv.netns}. */
  readonly netnsName: string | undefined;
  /** `CNI_IFNAME`: the interface name inside the pod. */
  readonly ifName: string;
  /** `CNI_ARGS`, parsed. */
  readonly args: Readonly<Record<string, string>>;
  /** `CNI_PATH`: where the runtime looks for plugins (unused, but required by the spec). */
  readonly path: string;
}

/** The pod a request is for, from the `K8S_POD_*` entries of `CNI_ARGS`. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/** Directories whose entries `ip -n <name>` can open (`/var/run` is `/run` on every FHS system). */
export const NETNS_DIRS = ['/var/run/netns/', '/run/netns/'] as const;

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];

function invalidEnv(variable: string, reason: string): CniError {
  return new CniError('InvalidEnvironment', `${variable}: ${reason}`);
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, variable: string): string {
  const v = env[variable];
  if (v === undefined || v === '') throw invalidEnv(variable, 'required');
  return v;
}

/** Reads `CNI_COMMAND`. Throws code 4 when it is missing or not a CNI command. */
export function parseCommand(env: Env): CniCommand {
  const cmd = required(env, 'CNI_COMMAND');
  if (!COMMANDS.includes(cmd)) {
    throw invalidEnv(
      'CNI_COMMAND',
      `unknown command "${cmd}" (expected ADD, DEL, CHECK or VERSION)`,
    );
  }
  return cmd as CniCommand;
}

/** Validates `CNI_CONTAINERID` the way libcni does. */
export function validateContainerId(id: string): string {
  if (!ID_RE.test(id)) {
    throw invalidEnv(
      'CNI_CONTAINERID',
      `"${id}" must start with a letter or digit and hold only letters, digits, '_', '.', '-'`,
    );
  }
  return id;
}

/** Validates `CNI_IFNAME` as a Linux interface name (at most 15 bytes, no '/', ':' or space). */
export function validateIfName(name: string): string {
  if (Buffer.byteLength(name) > 15)
    throw invalidEnv('CNI_IFNAME', `"${name}" is longer than 15 bytes`);
  if (name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw invalidEnv('CNI_IFNAME', `"${name}" is not a valid interface name`);
  }
  return name;
}

/**
 * Parses `CNI_ARGS`: `KEY=VALUE` pairs separated by `;`. Empty pairs are skipped; a value
 * may be empty and may itself hold `=`.
 */
export function parseCniArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalidEnv('CNI_ARGS', `"${pair}" is not KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * The netns name `ip -n` takes for a `CNI_NETNS` path. Only paths directly under
 * `/var/run/netns/` or `/run/netns/` (where containerd and CRI-O create them) are
 * supported, since `ip -n` cannot open an arbitrary path; others fail with code 101.
 */
export function netnsNameOf(path: string): string {
  for (const dir of NETNS_DIRS) {
    if (!path.startsWith(dir)) continue;
    const name = path.slice(dir.length);
    if (name !== '' && name !== '.' && name !== '..' && !name.includes('/')) return name;
  }
  throw new CniError(
    'UnsupportedNetns',
    `CNI_NETNS: "${path}" is not directly under /var/run/netns/ or /run/netns/; palisade-cni configures the pod through \`ip -n <name>\`, which only opens namespaces there`,
  );
}

/** Parses the environment of an ADD, DEL or CHECK request. Throws {@link CniError}. */
export function parseRequestEnv(command: 'ADD' | 'DEL' | 'CHECK', env: Env): CniEnv {
  const containerId = validateContainerId(required(env, 'CNI_CONTAINERID'));
  const ifName = validateIfName(required(env, 'CNI_IFNAME'));
  const path = required(env, 'CNI_PATH');
  const args = parseCniArgs(env['CNI_ARGS']);
  let netns: string | undefined;
  if (command === 'DEL') {
    netns = env['CNI_NETNS'] === '' ? undefined : env['CNI_NETNS'];
  } else {
    netns = required(env, 'CNI_NETNS');
  }
  let netnsName: string | undefined;
  if (netns !== undefined) {
    try {
      netnsName = netnsNameOf(netns);
    } catch (err) {
      // DEL never enters the pod's netns: an unusual path is no reason to fail it.
      if (command !== 'DEL') throw err;
    }
  }
  return { command, containerId, netns, netnsName, ifName, args, path };
}

/** The pod of a request; without `K8S_POD_*` args, namespace "" and the container id as name. */
export function podRefOf(env: Pick<CniEnv, 'args' | 'containerId'>): PodRef {
  return {
    namespace: env.args['K8S_POD_NAMESPACE'] ?? '',
    name: env.args['K8S_POD_NAME'] || env.containerId,
  };
}
