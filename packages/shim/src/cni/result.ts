/**
 * The JSON palisade-cni prints on stdout: the ADD/CHECK success result, the error result and
 * the VERSION answer (CNI spec 1.0.0, "Success", "Error", "Version"; 0.4.0 for older configs).
 */
import { formatAddress, parseAddress } from '@palisade/core';
import type { Address, Prefix } from '@palisade/core';
import { CniError } from './errors.js';
import { defaultDst, gatewayOf } from './gateway.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from './version.js';
import type { CniVersion } from './version.js';

/** An entry of `interfaces`. The host side has no `sandbox`. */
export interface CniInterface {
  readonly name: string;
  readonly mac: string;
  readonly sandbox?: string;
}

/** An entry of `ips`. `version` is only present in 0.4.0 results. */
export interface CniIpConfig {
  readonly version?: '4' | '6';
  readonly address: string;
  readonly gateway: string;
  readonly interface: number;
}

/** An entry of `routes`. */
export interface CniRoute {
  readonly dst: string;
  readonly gw: string;
}

/** The success result of ADD. */
export interface CniSuccessResult {
  readonly cniVersion: CniVersion;
  readonly interfaces: readonly CniInterface[];
  readonly ips: readonly CniIpConfig[];
  readonly routes: readonly CniRoute[];
  readonly dns: Readonly<Record<string, never>>;
}

/** The error result. */
export interface CniErrorResult {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details: string;
}

/** The answer to VERSION. */
export interface CniVersionResult {
  readonly cniVersion: CniVersion;
  readonly supportedVersions: readonly CniVersion[];
}

/** What an ADD produced, to be reported. */
export interface AddOutcome {
  readonly cniVersion: CniVersion;
  readonly hostIf: { readonly name: string; readonly mac: string };
  readonly podIf: { readonly name: string; readonly mac: string; readonly sandbox: string };
  readonly addresses: readonly { readonly subnet: Prefix; readonly address: Address }[];
}

/** `10.1.0.5/24`: an address with its subnet's prefix length. */
export function addressWithPrefix(a: { subnet: Prefix; address: Address }): string {
  return `${formatAddress(a.address)}/${a.subnet.len}`;
}

/** Builds the ADD success result. The pod interface is `interfaces[1]`. */
export function buildAddResult(o: AddOutcome): CniSuccessResult {
  const legacy = o.cniVersion === '0.4.0';
  return {
    cniVersion: o.cniVersion,
    interfaces: [
      { name: o.hostIf.name, mac: o.hostIf.mac },
      { name: o.podIf.name, mac: o.podIf.mac, sandbox: o.podIf.sandbox },
    ],
    ips: o.addresses.map((a) => ({
      ...(legacy ? { version: a.address.family === 4 ? ('4' as const) : ('6' as const) } : {}),
      address: addressWithPrefix(a),
      gateway: gatewayOf(a.address.family),
      interface: 1,
    })),
    routes: o.addresses.map((a) => ({
      dst: defaultDst(a.address.family),
      gw: gatewayOf(a.address.family),
    })),
    dns: {},
  };
}

/** Builds the error result of a failed request. */
export function buildErrorResult(cniVersion: string, err: CniError): CniErrorResult {
  return { cniVersion, code: err.number, msg: err.message, details: err.details };
}

/** Builds the VERSION answer. */
export function buildVersionResult(): CniVersionResult {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/**
 * The pod addresses recorded in a previous result (`prevResult.ips[].address`), for CHECK.
 * Throws code 7 naming the field when the previous result is malformed.
 */
export function addressesOfPrevResult(prev: Readonly<Record<string, unknown>>): Address[] {
  const ips = prev['ips'];
  if (ips === undefined) return [];
  if (!Array.isArray(ips)) {
    throw new CniError('InvalidNetworkConfig', 'network config: prevResult.ips: must be an array');
  }
  return (ips as unknown[]).map((ip, i) => {
    const field = `prevResult.ips[${i}].address`;
    const text =
      typeof ip === 'object' && ip !== null
        ? (ip as Record<string, unknown>)['address']
        : undefined;
    const a = typeof text === 'string' ? parseAddress(text.split('/')[0] ?? '') : undefined;
    if (!a) {
      throw new CniError(
        'InvalidNetworkConfig',
        `network config: ${field}: ${JSON.stringify(text)} is not an address in CIDR form`,
      );
    }
    return a;
  });
}
