/**
 * kube-apiserver for the control plane: TLS on a loopback port, client certificates and
 * service-account tokens for authentication, `Node,RBAC` authorisation, etcd as storage.
 *
 * There is no kube-controller-manager, so nothing creates the `default` ServiceAccount of a
 * namespace; the `ServiceAccount` admission plugin, which would refuse every Pod until it
 * exists, is disabled. Pods therefore keep an empty `spec.serviceAccountName` unless they set
 * one (Palisade reads an empty one as `default`, like the admission plugin would have).
 */
import { join } from 'node:path';
import type { Pki } from './pki.js';
import { startProcess, type ManagedProcess } from './process.js';
import { probeGet, waitReady } from './readiness.js';
import { readFileSync } from 'node:fs';

/** What the apiserver is started with. */
export interface ApiserverOptions {
  readonly binDir: string;
  readonly port: number;
  readonly etcdUrl: string;
  readonly pki: Pki;
  readonly logFile: string;
}

/** The service-account token issuer (also the default API audience). */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** kube-apiserver's command line. */
export function apiserverArgs(o: ApiserverOptions): string[] {
  return [
    `--etcd-servers=${o.etcdUrl}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${o.port}`,
    '--advertise-address=127.0.0.1',
    '--service-cluster-ip-range=10.0.0.0/24',
    // Required with a loopback advertise address (the reconciler refuses 127.0.0.0/8).
    '--endpoint-reconciler-type=none',
    `--tls-cert-file=${o.pki.serverCert}`,
    `--tls-private-key-file=${o.pki.serverKey}`,
    `--client-ca-file=${o.pki.caCert}`,
    '--authorization-mode=Node,RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${o.pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${o.pki.serviceAccountKey}`,
    '--disable-admission-plugins=ServiceAccount',
    '--profiling=false',
  ];
}

/** Starts kube-apiserver and resolves once `/readyz` answers `ok` to the admin. */
export async function startApiserver(o: ApiserverOptions): Promise<ManagedProcess> {
  const proc = startProcess({
    name: 'kube-apiserver',
    command: join(o.binDir, 'kube-apiserver'),
    args: apiserverArgs(o),
    logFile: o.logFile,
  });
  const tls = {
    ca: readFileSync(o.pki.caCert),
    cert: readFileSync(o.pki.adminCert),
    key: readFileSync(o.pki.adminKey),
  };
  const url = `https://127.0.0.1:${o.port}/readyz`;
  try {
    await waitReady(
      proc,
      o.logFile,
      async () => {
        const r = await probeGet(url, tls);
        return r?.status === 200 && r.body.trim() === 'ok';
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } catch (e) {
    await proc.terminate(2000);
    throw e;
  }
  return proc;
}
