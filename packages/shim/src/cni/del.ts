/**
 * DEL: forget the endpoint in the shim, delete the veth pair, release the addresses.
 * Idempotent: deleting what does not exist succeeds.
 */
import type { CniDeps } from './deps.js';
import type { CniEnv } from './env.js';
import { CniError } from './errors.js';
import { IpamStore } from './ipamStore.js';
import { hostVethName } from './names.js';
import type { NetConf } from './config.js';
import { deleteHostVeth } from './veth.js';

/** Runs DEL. Throws {@link CniError}. */
export async function cmdDel(conf: NetConf, env: CniEnv, deps: CniDeps): Promise<void> {
  const { containerId, ifName } = env;
  const hostIf = hostVethName(containerId, ifName);
  let shimFailure: CniError | undefined;
  try {
    await deps.shim(conf.shimSocket).unregister(containerId);
  } catch (err) {
    if (!(err instanceof CniError)) throw err;
    shimFailure = err;
  }

  // The pod loses its network whether or not the shim answered.
  deleteHostVeth(deps.link, hostIf);

  if (shimFailure) {
    // The addresses stay reserved: the shim may still map them to this pod's identity,
    // and handing one to a new pod now would let that pod be treated as this one. The
    // error (code 11) makes the runtime retry DEL; the retry, once the shim answers,
    // releases them.
    throw new CniError(
      'TryAgainLater',
      `${shimFailure.message}; the veth pair is removed but the pod's addresses stay reserved until the shim confirms`,
      { cause: shimFailure, details: shimFailure.details },
    );
  }
  await new IpamStore(conf.ipam.dataDir, conf.name).release({ containerId, ifName });
}
