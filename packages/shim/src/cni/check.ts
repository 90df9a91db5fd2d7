/**
 * CHECK: the veth pair, the pod's addresses and the shim's endpoint are as ADD left them.
 */
import { formatAddress } from '@palisade/core';
import type { Address } from '@palisade/core';
import type { CniDeps } from './deps.js';
import type { CniEnv } from './env.js';
import { CniError } from './errors.js';
import { IpamStore } from './ipamStore.js';
import { hostVethName } from './names.js';
import { addressesOfPrevResult } from './result.js';
import type { NetConf } from './config.js';
import { checkVeth } from './veth.js';

function sameSet(a: readonly Address[], b: readonly Address[]): boolean {
  const x = new Set(a.map(formatAddress));
  const y = new Set(b.map(formatAddress));
  return x.size === y.size && [...x].every((s) => y.has(s));
}

/**
 * Runs CHECK. The expected addresses come from `prevResult` when given, else from the
 * IPAM store. Throws {@link CniError} (code 103 for a difference).
 */
export async function cmdCheck(conf: NetConf, env: CniEnv, deps: CniDeps): Promise<void> {
  const { containerId, ifName, netnsName } = env;
  if (netnsName === undefined) throw new CniError('InvalidEnvironment', 'CNI_NETNS: required');
  const owned = await new IpamStore(conf.ipam.dataDir, conf.name).owned({ containerId, ifName });
  const expected = conf.prevResult ? addressesOfPrevResult(conf.prevResult) : owned;
  const show = (as: readonly Address[]): string => `[${as.map(formatAddress).join(', ')}]`;
  if (expected.length === 0) {
    throw new CniError('CheckFailed', `no address is recorded for ${containerId}/${ifName}`);
  }
  if (!sameSet(expected, owned)) {
    throw new CniError(
      'CheckFailed',
      `IPAM store holds ${show(owned)} for ${containerId}/${ifName}, expected ${show(expected)}`,
    );
  }
  checkVeth(
    deps.link,
    { hostIf: hostVethName(containerId, ifName), podIf: ifName, netnsName },
    expected,
  );
  if (!(await deps.shim(conf.shimSocket).has(containerId))) {
    throw new CniError('CheckFailed', `the shim has no endpoint for container ${containerId}`);
  }
}
