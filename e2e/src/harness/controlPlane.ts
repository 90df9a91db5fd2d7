/**
 * A real Kubernetes control plane for tests and the lab: etcd plus kube-apiserver (TLS,
 * RBAC, service-account tokens) as child processes on free loopback ports, with a temporary
 * directory holding the PKI, the admin kubeconfig, etcd's data and both logs.
 *
 * Invariants: the children never outlive the test process (exit hook plus parent-death
 * signal, see process.ts); `stop()` is idempotent; the apiserver can be stopped and started
 * again on the same port while etcd, and so every stored object, stays.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApiserver as launchApiserver, type ApiserverOptions } from './apiserver.js';
import { kubeBinDir, REPO_ROOT } from './binaries.js';
import { ControlPlaneError } from './errors.js';
import { etcdClientUrl, startEtcd } from './etcd.js';
import { writeKubeconfig } from './kubeconfig.js';
import {
  runKubectl,
  runKubectlOk,
  type KubectlOptions,
  type KubectlResult,
  type KubectlTarget,
} from './kubectl.js';
import { createPki } from './pki.js';
import { freePorts } from './ports.js';
import { onProcessExit, type ManagedProcess } from './process.js';

export type { KubectlResult } from './kubectl.js';
export { kubeBinDir } from './binaries.js';

/** A running control plane. Create with {@link startControlPlane}. */
export interface ControlPlane {
  /** Temporary directory: PKI, kubeconfigs, etcd data, logs (`apiserver.log`, `etcd.log`). */
  readonly dir: string;
  /** kubeconfig of the admin user (`O=system:masters`, client certificate). */
  readonly kubeconfigPath: string;
  /** The apiserver URL, `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** The kubectl binary (same release as the apiserver). */
  readonly kubectlPath: string;
  /** Directory holding kube-apiserver and kubectl. */
  readonly binDir: string;
  /**
   * Runs kubectl as the admin (or with the kubeconfig named in `args` by `--kubeconfig`).
   * Never throws for a non-zero exit.
   */
  kubectl(args: readonly string[], opts?: { input?: string }): Promise<KubectlResult>;
  /** Like {@link ControlPlane.kubectl}, but throws a `KUBECTL` error (with stderr) on failure. */
  kubectlOk(args: readonly string[], opts?: { input?: string }): Promise<string>;
  /** `kubectl apply -f <repo>/crds/`, then waits until every CRD there is Established. */
  applyCrds(): Promise<void>;
  /** SIGTERM to the apiserver and wait for its exit (etcd keeps running). No-op when stopped. */
  stopApiserver(): Promise<void>;
  /** Starts the apiserver again (same port, same flags); resolves when `/readyz` is ok. */
  startApiserver(): Promise<void>;
  /** Stops the apiserver, waits `downMs` (default 0) and starts it again. */
  restartApiserver(downMs?: number): Promise<void>;
  /**
   * A kubeconfig for the ServiceAccount `namespace/name`, authenticated by a bound token
   * from the TokenRequest API (valid 24 h), so tests can check RBAC. Creates the namespace
   * and the ServiceAccount when they do not exist. Returns the file's path.
   */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /**
   * Kills the apiserver and etcd and removes `dir` (kept when `PALISADE_KEEP_E2E=1`).
   * Idempotent; every other method fails with `STOPPED` afterwards.
   */
  stop(): Promise<void>;
}

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Receives one line per step (where things are, how long they took). */
  readonly log?: (line: string) => void;
}

const KEEP_ENV = 'PALISADE_KEEP_E2E';

function keepDir(): boolean {
  return process.env[KEEP_ENV] === '1';
}

/**
 * The parent of control-plane directories: `PALISADE_E2E_TMPDIR`, else `/dev/shm` when it
 * is a writable directory (etcd's fsyncs cost nothing there), else the OS temp directory.
 */
function baseTmpDir(): string {
  const fromEnv = process.env['PALISADE_E2E_TMPDIR'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

function makeDir(): string {
  try {
    return mkdtempSync(join(baseTmpDir(), 'palisade-e2e-'));
  } catch {
    return mkdtempSync(join(tmpdir(), 'palisade-e2e-'));
  }
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(2)} s`;
}

/**
 * Starts etcd and kube-apiserver and resolves when the apiserver is ready. On failure,
 * whatever was started is stopped again and the error (with the end of the failing
 * process's log) is thrown.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const dir = makeDir();
  let etcd: ManagedProcess | undefined;
  let apiserver: ManagedProcess | undefined;
  const removeDir = (): void => {
    if (!keepDir()) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const unhook = onProcessExit(removeDir);
  // Everything is thrown away, so the apiserver needs no graceful shutdown (it takes ~1 s);
  // etcd gets SIGTERM so that a kept directory (PALISADE_KEEP_E2E=1) holds a clean store.
  const kill = async (): Promise<void> => {
    await apiserver?.kill();
    await etcd?.terminate();
  };
  try {
    const [binDir, pki, ports] = await Promise.all([kubeBinDir(), createPki(dir), freePorts(3)]);
    const [apiPort = 0, etcdPort = 0, peerPort = 0] = ports;
    log(`palisade-e2e: pki and ports ready in ${seconds(t0)} (${dir})`);
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    const kubeconfigWritten = writeKubeconfig(kubeconfigPath, {
      server,
      caFile: pki.caCert,
      userName: 'admin',
      user: { clientCertificate: pki.adminCert, clientKey: pki.adminKey },
    });
    const tEtcd = Date.now();
    etcd = await startEtcd({
      dir,
      clientPort: etcdPort,
      peerPort,
      logFile: join(dir, 'etcd.log'),
    });
    log(
      `palisade-e2e: etcd ready on ${etcdClientUrl({ clientPort: etcdPort })} in ${seconds(tEtcd)}`,
    );
    const apiOpts: ApiserverOptions = {
      binDir,
      port: apiPort,
      etcdUrl: etcdClientUrl({ clientPort: etcdPort }),
      pki,
      logFile: join(dir, 'apiserver.log'),
    };
    const tApi = Date.now();
    apiserver = await launchApiserver(apiOpts);
    await kubeconfigWritten;
    log(
      `palisade-e2e: kube-apiserver ready on ${server} in ${seconds(tApi)}; total ${seconds(t0)}`,
    );

    const target: KubectlTarget = {
      kubectlPath: join(binDir, 'kubectl'),
      kubeconfigPath,
      cacheDir: join(dir, 'kube-cache'),
    };
    let stopping: Promise<void> | undefined;
    let apiserverOp: Promise<void> = Promise.resolve();
    const alive = (): void => {
      if (stopping)
        throw new ControlPlaneError('STOPPED', `the control plane in ${dir} was stopped`);
    };
    // Start and stop of the apiserver run one at a time, in call order.
    const serialize = (f: () => Promise<void>): Promise<void> => {
      const next = apiserverOp.then(f, f);
      apiserverOp = next.catch(() => undefined);
      return next;
    };
    const stopApi = (): Promise<void> =>
      serialize(async () => {
        const p = apiserver;
        apiserver = undefined;
        if (p) {
          await p.terminate(1000); // open watches keep it alive for the whole grace otherwise
          log('palisade-e2e: kube-apiserver stopped');
        }
      });
    const startApi = (): Promise<void> =>
      serialize(async () => {
        alive();
        if (apiserver && !apiserver.exitInfo()) return;
        const t = Date.now();
        apiserver = await launchApiserver(apiOpts);
        log(`palisade-e2e: kube-apiserver ready again in ${seconds(t)}`);
      });

    const cp: ControlPlane = {
      dir,
      kubeconfigPath,
      server,
      kubectlPath: target.kubectlPath,
      binDir,
      kubectl: async (args, o) => (alive(), runKubectl(target, args, kubectlOpts(o))),
      kubectlOk: async (args, o) => (alive(), runKubectlOk(target, args, kubectlOpts(o))),
      async applyCrds() {
        alive();
        const crds = join(REPO_ROOT, 'crds');
        await runKubectlOk(target, ['apply', '--server-side', '-f', crds]);
        await runKubectlOk(target, [
          'wait',
          '--for=condition=Established',
          '--timeout=60s',
          '-f',
          crds,
        ]);
      },
      stopApiserver: async () => (alive(), stopApi()),
      startApiserver: startApi,
      async restartApiserver(downMs = 0) {
        alive();
        await stopApi();
        if (downMs > 0) await sleep(downMs);
        await startApi();
      },
      async serviceAccountKubeconfig(namespace, name) {
        alive();
        await ensureServiceAccount(target, namespace, name);
        const token = (
          await runKubectlOk(target, ['create', 'token', name, '-n', namespace, '--duration=24h'])
        ).trim();
        const path = join(dir, `sa-${namespace}-${name}.kubeconfig`);
        await writeKubeconfig(path, {
          server,
          caFile: pki.caCert,
          userName: `system:serviceaccount:${namespace}:${name}`,
          user: { token },
        });
        return path;
      },
      stop() {
        stopping ??= (async () => {
          await apiserverOp;
          await kill();
          apiserver = undefined;
          unhook();
          if (keepDir()) log(`palisade-e2e: stopped; ${KEEP_ENV}=1 keeps ${dir}`);
          else {
            removeDir();
            log('palisade-e2e: stopped');
          }
        })();
        return stopping;
      },
    };
    mkdirSync(target.cacheDir, { recursive: true });
    return cp;
  } catch (e) {
    await kill();
    unhook();
    if (keepDir()) log(`palisade-e2e: start failed; ${KEEP_ENV}=1 keeps ${dir}`);
    else removeDir();
    throw e;
  }
}

function kubectlOpts(o: { input?: string } | undefined): KubectlOptions {
  return o?.input === undefined ? {} : { input: o.input };
}

/** Creates the namespace and the ServiceAccount unless they exist. */
async function ensureServiceAccount(
  t: KubectlTarget,
  namespace: string,
  name: string,
): Promise<void> {
  const manifest = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
  ]
    .map((o) => JSON.stringify(o))
    .join('\n');
  const r = await runKubectl(t, ['create', '-f', '-'], { input: manifest });
  if (r.code === 0) return;
  const errors = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/AlreadyExists|already exists/.test(l));
  if (errors.length > 0)
    throw new ControlPlaneError(
      'KUBECTL',
      `cannot create ServiceAccount ${namespace}/${name}: ${errors.join('\n')}`,
    );
}
