/**
 * Runs kubectl against the control plane and collects its output.
 */
import { spawn } from 'node:child_process';
import { ControlPlaneError } from './errors.js';

/** What a kubectl run printed and how it exited. */
export interface KubectlResult {
  /** Exit code (-1 when kubectl could not be started or was killed by a signal). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one kubectl run. */
export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  readonly input?: string;
}

/** Where kubectl runs: binary, default kubeconfig, discovery-cache directory. */
export interface KubectlTarget {
  readonly kubectlPath: string;
  readonly kubeconfigPath: string;
  readonly cacheDir: string;
}

/**
 * Runs `kubectl --kubeconfig <admin> <args>`. When `args` already name a kubeconfig
 * (`--kubeconfig x` or `--kubeconfig=x`), that one is used instead. Never throws for a
 * non-zero exit: the code is in the result.
 */
export function runKubectl(
  t: KubectlTarget,
  args: readonly string[],
  opts: KubectlOptions = {},
): Promise<KubectlResult> {
  const own = args.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig='));
  const full = own ? [...args] : ['--kubeconfig', t.kubeconfigPath, ...args];
  return new Promise((resolve) => {
    const child = spawn(t.kubectlPath, full, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, KUBECACHEDIR: t.cacheDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {
      // kubectl may exit before reading its input; the exit code tells what happened
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like {@link runKubectl}, but a non-zero exit is a KUBECTL error carrying stderr. */
export async function runKubectlOk(
  t: KubectlTarget,
  args: readonly string[],
  opts: KubectlOptions = {},
): Promise<string> {
  const r = await runKubectl(t, args, opts);
  if (r.code !== 0)
    throw new ControlPlaneError(
      'KUBECTL',
      `kubectl ${args.join(' ')} exited with ${r.code}: ${r.stderr.trim()}`,
    );
  return r.stdout;
}
