/**
 * Where the control plane's binaries come from: kube-apiserver and kubectl built (and
 * cached) by `scripts/install-kube.sh`, etcd and openssl from the system (`scripts/setup.sh`
 * installs Debian's `etcd-server` and `openssl`).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlPlaneError } from './errors.js';

/** The repository root (this file is `e2e/{src,dist}/harness/binaries.*`). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Finds an executable on PATH (then in `extraDirs`); undefined when there is none. */
export function findExecutable(
  name: string,
  extraDirs: readonly string[] = [],
): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...extraDirs];
  for (const d of dirs) {
    if (d === '') continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here: try the next directory
    }
  }
  return undefined;
}

/** Like {@link findExecutable}, but a missing binary is an error that says how to get it. */
export function requireExecutable(name: string, hint: string): string {
  const p = findExecutable(name, ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin']);
  if (p === undefined)
    throw new ControlPlaneError('MISSING_BINARY', `'${name}' not found on PATH: ${hint}`);
  return p;
}

/** The etcd binary: `PALISADE_ETCD` if set, else `etcd` on PATH (Debian's `etcd-server`). */
export function etcdPath(): string {
  const fromEnv = process.env['PALISADE_ETCD'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return requireExecutable(
    'etcd',
    'install it with `apt-get install etcd-server` (scripts/setup.sh does)',
  );
}

let binDir: Promise<string> | undefined;

/**
 * The directory holding `kube-apiserver` and `kubectl`: `PALISADE_KUBE_BIN_DIR` when set,
 * otherwise the cached build of the pinned release. Runs `scripts/install-kube.sh` (which
 * only prints the directory when the binaries are cached, and builds them otherwise, with
 * its progress on this process's stderr). The answer is memoised for the process.
 */
export function kubeBinDir(): Promise<string> {
  binDir ??= runInstallKube().catch((e: unknown) => {
    binDir = undefined;
    throw e;
  });
  return binDir;
}

function runInstallKube(): Promise<string> {
  const script = join(REPO_ROOT, 'scripts', 'install-kube.sh');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.once('error', (e) =>
      reject(new ControlPlaneError('MISSING_BINARY', `cannot run ${script}`, { cause: e })),
    );
    child.once('close', (code) => {
      const dir = out.trim().split('\n').pop()?.trim() ?? '';
      if (code === 0 && dir !== '') resolve(dir);
      else
        reject(
          new ControlPlaneError(
            'MISSING_BINARY',
            `${script} exited with ${String(code)}: no kube-apiserver/kubectl (its output is above)`,
          ),
        );
    });
  });
}
