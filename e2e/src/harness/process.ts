/**
 * Child processes that never outlive the test process: each one is registered, killed with
 * SIGKILL from a `process.on('exit')` hook, and (where util-linux `setpriv` exists) started
 * with a parent-death signal, so even a test process killed with SIGKILL takes them along.
 * Their stdout and stderr go straight to a log file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { ControlPlaneError } from './errors.js';
import { findExecutable } from './binaries.js';

/** How a child ended. */
export interface ExitInfo {
  /** Exit code, or null when killed by a signal or never started. */
  readonly code: number | null;
  /** The signal that killed it, if any. */
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  readonly error?: Error;
}

/** A running (or finished) child process. */
export interface ManagedProcess {
  /** Short name for messages (`etcd`, `kube-apiserver`). */
  readonly name: string;
  /** Its pid (undefined when spawning failed). */
  readonly pid: number | undefined;
  /** Resolves when the process has exited; never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** The exit, once it happened. */
  exitInfo(): ExitInfo | undefined;
  /**
   * Sends SIGTERM and waits for the exit; after `graceMs` sends SIGKILL. Resolves once the
   * process is gone. Safe to call more than once and after the process ended by itself.
   */
  terminate(graceMs?: number): Promise<ExitInfo>;
  /** Sends SIGKILL and waits for the exit. Safe to call after the process ended. */
  kill(): Promise<ExitInfo>;
}

const live = new Set<ChildProcess>();
const exitHooks = new Set<() => void>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    // Wait (at most 2 s) until every child has really died, so the hooks below do not race
    // a dying etcd that is still writing into the directory they remove.
    const deadline = Date.now() + 2000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while ([...live].some((c) => c.pid !== undefined && isRunning(c.pid)) && Date.now() < deadline)
      Atomics.wait(pause, 0, 0, 10);
    for (const h of exitHooks) {
      try {
        h();
      } catch {
        // best effort while exiting: nothing can report it any more
      }
    }
  });
}

/** True while `pid` exists and is not a zombie (a zombie no longer runs, it only waits to be reaped). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Registers a synchronous cleanup to run when the test process exits (after every child has
 * been sent SIGKILL). Returns a function that unregisters it.
 */
export function onProcessExit(hook: () => void): () => void {
  installExitHook();
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

let setpriv: string | null | undefined;
function pdeathsigPrefix(): string[] {
  if (setpriv === undefined) setpriv = findExecutable('setpriv', ['/usr/bin', '/bin']) ?? null;
  return setpriv === null ? [] : [setpriv, '--pdeathsig', 'KILL', '--'];
}

/** What to start. */
export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** File that receives stdout and stderr (appended to). */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Starts a child. It does not keep the event loop alive by itself (waiting for it through
 * `terminate` or `exited` does), so a test that forgets to stop it still ends, and the exit
 * hook then kills it.
 */
export function startProcess(o: StartOptions): ManagedProcess {
  installExitHook();
  const [cmd, ...args] = [...pdeathsigPrefix(), o.command, ...o.args];
  const fd = openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd ?? o.command, args, {
      stdio: ['ignore', fd, fd],
      env: o.env ?? process.env,
    });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  child.unref();
  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      if (child.pid !== undefined) return; // an error from kill(): 'exit' still follows
      live.delete(child);
      info = { code: null, signal: null, error };
      resolve(info);
    });
    child.once('exit', (code, signal) => {
      live.delete(child);
      info = { code, signal };
      resolve(info);
    });
  });
  return {
    name: o.name,
    pid: child.pid,
    exited,
    exitInfo: () => info,
    terminate: (graceMs = 10_000) => stopChild('SIGTERM', graceMs),
    kill: () => stopChild('SIGKILL', 0),
  };

  async function stopChild(signal: NodeJS.Signals, graceMs: number): Promise<ExitInfo> {
    if (info !== undefined) return info;
    child.ref(); // keep the loop alive while we wait for it
    try {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    } finally {
      child.unref();
    }
  }
}

/** Describes an exit for an error message. */
export function describeExit(p: ManagedProcess, e: ExitInfo): string {
  if (e.error) return `${p.name} could not be started: ${e.error.message}`;
  return e.signal !== null
    ? `${p.name} was killed by ${e.signal}`
    : `${p.name} exited with code ${String(e.code)}`;
}

/** Throws a START_FAILED error naming the process, its exit and its log file. */
export function startFailed(p: ManagedProcess, e: ExitInfo, logFile: string, tail: string): never {
  throw new ControlPlaneError(
    'START_FAILED',
    `${describeExit(p, e)} before it was ready; last lines of ${logFile}:\n${tail}`,
    e.error ? { cause: e.error } : undefined,
  );
}
