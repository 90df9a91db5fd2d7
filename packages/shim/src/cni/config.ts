/**
 * The network configuration palisade-cni reads on stdin, parsed and validated strictly.
 * Every message names the offending field, e.g. `ipam.subnets[1]: ...`.
 *
 * Unknown top-level fields are accepted and ignored: container runtimes add their own
 * (`runtimeConfig`, `args`, `capabilities`, ...). Unknown fields inside `ipam` are refused
 * (code 2), since they can only be a mistake in our own section.
 */
import { formatPrefix, parseAddress, parsePrefix } from '@palisade/core';
import type { Prefix } from '@palisade/core';
import { CniError, messageOf } from './errors.js';
import { CURRENT_VERSION, isSupportedVersion, SUPPORTED_VERSIONS } from './version.js';
import type { CniVersion } from './version.js';

/** Where allocated addresses are recorded when `ipam.dataDir` is not given. */
export const DEFAULT_DATA_DIR = '/var/lib/palisade/ipam';

/** The MTU of both veth ends when `mtu` is not given. */
export const DEFAULT_MTU = 1500;

/** Longest IPv4 subnet prefix: a /30 still has one assignable address. */
export const MAX_V4_PREFIX_LEN = 30;

/** Longest IPv6 subnet prefix: a /126 still has two assignable addresses. */
export const MAX_V6_PREFIX_LEN = 126;

/** A name usable as a directory: the same rule libcni applies to network names. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const IPAM_FIELDS = new Set(['subnets', 'dataDir']);

/** The IPAM section of the network configuration. */
export interface IpamConfig {
  /** One or two subnets, at most one per family, IPv4 first. Host bits are zero. */
  readonly subnets: readonly Prefix[];
  /** Directory under which `<network name>/` holds one file per allocated address. */
  readonly dataDir: string;
}

/** A validated palisade-cni network configuration. */
export interface NetConf {
  readonly cniVersion: CniVersion;
  /** Network name; also the IPAM store's subdirectory. */
  readonly name: string;
  /** Plugin type as written in the configuration (normally `palisade-cni`). */
  readonly type: string;
  /** Path of the shim's unix socket. */
  readonly shimSocket: string;
  /** MTU of both veth ends. */
  readonly mtu: number;
  readonly ipam: IpamConfig;
  /** The previous result, when the runtime passes one (DEL, CHECK, chained ADD). */
  readonly prevResult?: Readonly<Record<string, unknown>> | undefined;
}

function invalid(field: string, reason: string): CniError {
  return new CniError('InvalidNetworkConfig', `network config: ${field}: ${reason}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(obj: Record<string, unknown>, field: string, path = field): string {
  const v = obj[field];
  if (v === undefined) throw invalid(path, 'required');
  if (typeof v !== 'string') throw invalid(path, `must be a string, got ${JSON.stringify(v)}`);
  if (v === '') throw invalid(path, 'must not be empty');
  return v;
}

function absolutePath(v: string, path: string): string {
  if (!v.startsWith('/')) throw invalid(path, `must be an absolute path, got "${v}"`);
  if (v.includes('\0')) throw invalid(path, 'must not contain NUL');
  return v;
}

/** Parses and validates one `ipam.subnets` entry. */
export function parseSubnet(v: unknown, path: string): Prefix {
  if (typeof v !== 'string') throw invalid(path, `must be a CIDR string, got ${JSON.stringify(v)}`);
  const p = parsePrefix(v);
  if (!p) throw invalid(path, `"${v}" is not a CIDR (expected e.g. 10.1.0.0/24 or fd00:1::/120)`);
  const canonical = formatPrefix(p);
  const given = parseAddress(v.slice(0, v.indexOf('/')));
  if (given && given.addr !== p.addr) {
    throw invalid(path, `"${v}" has host bits set (did you mean ${canonical}?)`);
  }
  const max = p.family === 4 ? MAX_V4_PREFIX_LEN : MAX_V6_PREFIX_LEN;
  if (p.len > max) {
    throw invalid(
      path,
      `"${v}" is too small to assign addresses (IPv${p.family} needs /${max} or shorter)`,
    );
  }
  return p;
}

function parseIpam(v: unknown): IpamConfig {
  if (v === undefined) throw invalid('ipam', 'required');
  if (!isObject(v)) throw invalid('ipam', 'must be an object');
  for (const k of Object.keys(v)) {
    if (!IPAM_FIELDS.has(k)) {
      throw new CniError(
        'UnsupportedField',
        `network config: ipam.${k}: unknown field (palisade-cni reads ipam.subnets and ipam.dataDir)`,
      );
    }
  }
  const subnetsRaw = v['subnets'];
  if (subnetsRaw === undefined) throw invalid('ipam.subnets', 'required');
  if (!Array.isArray(subnetsRaw)) throw invalid('ipam.subnets', 'must be an array of CIDR strings');
  if (subnetsRaw.length < 1 || subnetsRaw.length > 2) {
    throw invalid('ipam.subnets', `must hold 1 or 2 subnets, got ${subnetsRaw.length}`);
  }
  const subnets = (subnetsRaw as unknown[]).map((s, i) => parseSubnet(s, `ipam.subnets[${i}]`));
  const [a, b] = subnets;
  if (a && b && a.family === b.family) {
    throw invalid(
      'ipam.subnets',
      `at most one subnet per family, got two IPv${a.family} subnets (${formatPrefix(a)}, ${formatPrefix(b)})`,
    );
  }
  subnets.sort((x, y) => x.family - y.family);
  let dataDir = DEFAULT_DATA_DIR;
  if (v['dataDir'] !== undefined)
    dataDir = absolutePath(requireString(v, 'dataDir', 'ipam.dataDir'), 'ipam.dataDir');
  return { subnets, dataDir };
}

function parseMtu(v: unknown, hasV6: boolean): number {
  if (v === undefined) return DEFAULT_MTU;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw invalid('mtu', `must be an integer, got ${JSON.stringify(v)}`);
  }
  const min = hasV6 ? 1280 : 68;
  if (v < min || v > 65535) {
    throw invalid(
      'mtu',
      `must be between ${min} and 65535${hasV6 ? ' (IPv6 needs 1280)' : ''}, got ${v}`,
    );
  }
  return v;
}

/**
 * The `cniVersion` a raw configuration asks for, if it is one we support; otherwise the
 * current version. Used to label error results even when the configuration is invalid.
 */
export function peekCniVersion(text: string): CniVersion {
  try {
    const v: unknown = JSON.parse(text);
    if (isObject(v) && typeof v['cniVersion'] === 'string' && isSupportedVersion(v['cniVersion'])) {
      return v['cniVersion'];
    }
  } catch {
    // Not JSON: the caller reports that separately.
  }
  return CURRENT_VERSION;
}

/** Parses the network configuration from the text read on stdin. Throws {@link CniError}. */
export function parseNetConf(text: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const what = text.trim() === '' ? 'stdin is empty' : messageOf(err);
    throw new CniError('DecodeFailure', `network config is not valid JSON: ${what}`, {
      cause: err,
    });
  }
  if (!isObject(raw)) throw invalid('(root)', 'must be a JSON object');
  const version = requireString(raw, 'cniVersion');
  if (!isSupportedVersion(version)) {
    throw new CniError(
      'IncompatibleVersion',
      `network config: cniVersion: "${version}" is not supported; palisade-cni supports ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  const name = requireString(raw, 'name');
  if (!NAME_RE.test(name)) {
    throw invalid(
      'name',
      `"${name}" must start with a letter or digit and hold only letters, digits, '_', '.', '-'`,
    );
  }
  const type = requireString(raw, 'type');
  const shimSocket = absolutePath(requireString(raw, 'shimSocket'), 'shimSocket');
  const ipam = parseIpam(raw['ipam']);
  const mtu = parseMtu(
    raw['mtu'],
    ipam.subnets.some((s) => s.family === 6),
  );
  const prev = raw['prevResult'];
  if (prev !== undefined && !isObject(prev)) throw invalid('prevResult', 'must be an object');
  return { cniVersion: version, name, type, shimSocket, mtu, ipam, prevResult: prev };
}
