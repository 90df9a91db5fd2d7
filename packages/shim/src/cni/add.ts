/**
 * ADD: allocate addresses, create and configure the veth pair, register the endpoint with
 * the shim, report the result. When a step fails, everything done for this container's
 * interface is undone (veth pair, addresses) before the error is returned.
 */
import { formatAddress } from '@palisade/core';
import type { CniDeps } from './deps.js';
import { podRefOf } from './env.js';
import type { CniEnv } from './env.js';
import { CniError, messageOf } from './errors.js';
import { IpamStore } from './ipamStore.js';
import { hostVethName } from './names.js';
import { buildAddResult } from './result.js';
import type { CniSuccessResult } from './result.js';
import type { NetConf } from './config.js';
import { deleteHostVeth, setUpVeth } from './veth.js';

/** Runs ADD and returns the success result. Throws {@link CniError}. */
export async function cmdAdd(conf: NetConf, env: CniEnv, deps: CniDeps): Promise<CniSuccessResult> {
  const { containerId, ifName, netns, netnsName } = env;
  if (netns === undefined || netnsName === undefined) {
    // parseRequestEnv guarantees both for ADD; this keeps the types honest.
    throw new CniError('InvalidEnvironment', 'CNI_NETNS: required');
  }
  const owner = { containerId, ifName };
  const store = new IpamStore(conf.ipam.dataDir, conf.name);
  const hostIf = hostVethName(containerId, ifName);

  const addresses = await store.allocate(conf.ipam.subnets, owner);
  try {
    // A pair left by an earlier ADD of the same container interface is replaced.
    if (deleteHostVeth(deps.link, hostIf)) deps.log(`replaced existing host veth ${hostIf}`);
    const veth = setUpVeth(deps.link, {
      hostIf,
      podIf: ifName,
      netnsName,
      mtu: conf.mtu,
      addresses,
    });
    await deps.shim(conf.shimSocket).register({
      containerId,
      netns,
      ifName,
      hostIfName: hostIf,
      hostIfIndex: veth.hostIfIndex,
      ips: addresses.map((a) => formatAddress(a.address)),
      mac: veth.podMac,
      pod: podRefOf(env),
    });
    return buildAddResult({
      cniVersion: conf.cniVersion,
      hostIf: { name: hostIf, mac: veth.hostMac },
      podIf: { name: ifName, mac: veth.podMac, sandbox: netns },
      addresses,
    });
  } catch (err) {
    await undo(deps, store, hostIf, owner);
    throw err;
  }
}

/** Best-effort removal of what ADD creates; failures are logged, the original error wins. */
async function undo(
  deps: CniDeps,
  store: IpamStore,
  hostIf: string,
  owner: { containerId: string; ifName: string },
): Promise<void> {
  try {
    deleteHostVeth(deps.link, hostIf);
  } catch (err) {
    deps.log(`cleanup: cannot delete host veth ${hostIf}: ${messageOf(err)}`);
  }
  try {
    await store.release(owner);
  } catch (err) {
    deps.log(
      `cleanup: cannot release addresses of ${owner.containerId}/${owner.ifName}: ${messageOf(err)}`,
    );
  }
}
