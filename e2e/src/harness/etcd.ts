/**
 * etcd for the control plane: one member, plain HTTP on loopback, data in the control
 * plane's directory. Debian's etcd 3.4 works with kube-apiserver v1.37 (see
 * docs/control-plane-build.md).
 */
import { join } from 'node:path';
import { etcdPath } from './binaries.js';
import { startProcess, type ManagedProcess } from './process.js';
import { probeGet, waitReady } from './readiness.js';

/** Where etcd listens and keeps its data. */
export interface EtcdOptions {
  /** The control plane's directory; data goes to `<dir>/etcd`. */
  readonly dir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly logFile: string;
}

/** The URL clients (the apiserver) use. */
export function etcdClientUrl(o: Pick<EtcdOptions, 'clientPort'>): string {
  return `http://127.0.0.1:${o.clientPort}`;
}

/** etcd's command line. Peer URLs are explicit so that nothing binds the default 2380. */
export function etcdArgs(o: EtcdOptions): string[] {
  const client = etcdClientUrl(o);
  const peer = `http://127.0.0.1:${o.peerPort}`;
  return [
    '--name=e2e',
    `--data-dir=${join(o.dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=e2e=${peer}`,
    // One member on loopback: a short election timeout makes it leader in ~0.1 s instead
    // of ~1 s, and there is no other member to lose an election to.
    '--heartbeat-interval=10',
    '--election-timeout=100',
    '--logger=zap',
    '--log-level=warn',
  ];
}

/** Starts etcd and resolves once `/health` reports `{"health":"true"}`. */
export async function startEtcd(o: EtcdOptions): Promise<ManagedProcess> {
  const proc = startProcess({
    name: 'etcd',
    command: etcdPath(),
    args: etcdArgs(o),
    logFile: o.logFile,
  });
  const url = `${etcdClientUrl(o)}/health`;
  try {
    await waitReady(
      proc,
      o.logFile,
      async () => {
        const r = await probeGet(url);
        return r?.status === 200 && /"health":\s*"true"/.test(r.body);
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  } catch (e) {
    await proc.terminate(2000);
    throw e;
  }
  return proc;
}
