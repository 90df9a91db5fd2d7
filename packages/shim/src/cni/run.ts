/**
 * One CNI invocation, from environment and stdin to what goes on stdout and the exit
 * status. Every failure, expected or not, becomes a CNI error result; nothing escapes.
 */
import { cmdAdd } from './add.js';
import { cmdCheck } from './check.js';
import { peekCniVersion, parseNetConf } from './config.js';
import { cmdDel } from './del.js';
import type { CniDeps } from './deps.js';
import { parseCommand, parseRequestEnv } from './env.js';
import { CniError, messageOf } from './errors.js';
import { buildErrorResult, buildVersionResult } from './result.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from './version.js';

/** What to print on stdout and the exit status (0 success, 1 any error, as libcni's skel). */
export interface CniOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

function json(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}

/** Wraps anything thrown into a {@link CniError}; unexpected ones become code 199. */
export function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  return new CniError('Internal', `internal error: ${messageOf(err)}`, { cause: err });
}

/**
 * Runs one request. `readStdin` is only called for commands that take a network config.
 * Never throws.
 */
export async function runCni(
  env: Readonly<Record<string, string | undefined>>,
  readStdin: () => Promise<string>,
  deps: CniDeps,
): Promise<CniOutput> {
  let version: string = CURRENT_VERSION;
  try {
    const command = parseCommand(env);
    if (command === 'VERSION') return { stdout: json(buildVersionResult()), exitCode: 0 };
    const stdin = await readStdin();
    version = peekCniVersion(stdin);
    if (command === 'STATUS' || command === 'GC') {
      throw new CniError(
        'IncompatibleVersion',
        `CNI_COMMAND: ${command} belongs to CNI 1.1.0; palisade-cni supports ${SUPPORTED_VERSIONS.join(', ')}`,
      );
    }
    const req = parseRequestEnv(command, env);
    const conf = parseNetConf(stdin);
    switch (req.command) {
      case 'ADD':
        return { stdout: json(await cmdAdd(conf, req, deps)), exitCode: 0 };
      case 'DEL':
        await cmdDel(conf, req, deps);
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        await cmdCheck(conf, req, deps);
        return { stdout: '', exitCode: 0 };
    }
  } catch (err) {
    const e = asCniError(err);
    deps.log(`${env['CNI_COMMAND'] ?? '?'} failed (code ${e.number}): ${e.message}`);
    if (e.code === 'Internal' && err instanceof Error && err.stack) deps.log(err.stack);
    return { stdout: json(buildErrorResult(version, e)), exitCode: 1 };
  }
}
