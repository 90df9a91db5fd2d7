/**
 * A real `redis-server` for tests, run as a child process on a free loopback port in its own
 * temporary directory.
 *
 * - Persistence is the append-only file with `appendfsync always`, so every acknowledged
 *   write survives `kill()` (SIGKILL, i.e. a crash) and comes back on `start()`.
 * - The server never outlives the test process: every running child is killed with SIGKILL
 *   on process exit (and on SIGINT/SIGTERM/SIGHUP when nothing else handles them), and the
 *   directories of servers never stopped are removed then. Where util-linux `setpriv` exists
 *   the server also runs with a parent-death signal (SIGKILL), so it dies even when the test
 *   process is killed outright.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperatorError } from '../errors.js';
import { errorMessage } from '../log.js';

/** A running (or stopped) test Redis server. */
export interface RedisServer {
  /** The loopback port; the same across `kill()`/`start()`. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The data directory (holds the append-only file). */
  readonly dir: string;
  /** The process id of the running server, if one runs. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s), waits for exit and removes `dir`. Idempotent. */
  stop(): Promise<void>;
  /** Kills the process (SIGKILL, like a crash) and waits for its exit; keeps `dir` for `start()`. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory; resolves when PING answers. */
  start(): Promise<void>;
  /** `kill()`, wait `downMs` (default 0), `start()`. */
  restart(downMs?: number): Promise<void>;
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Receives the server's output, one line per call. */
  readonly log?: (line: string) => void;
  /** The server binary (default `$REDIS_SERVER` or `redis-server` on the PATH). */
  readonly binary?: string;
  /** How long to wait for PING to answer (default 10 s). */
  readonly readyTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
const dirsToRemove = new Set<string>();
let exitHooked = false;

function hookProcessExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const killAll = (): void => {
    for (const child of live) child.kill('SIGKILL');
    live.clear();
    for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
    dirsToRemove.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only take over signals nobody else handles, and keep their default effect (exit).
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** A port that was free on 127.0.0.1 a moment ago (bound to port 0 and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() =>
        port > 0 ? resolve(port) : reject(new Error('no port from listen(0) on 127.0.0.1')),
      );
    });
  });
}

/** Sends one inline PING on a fresh connection; true when the answer is `+PONG`. */
function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/** `setpriv`, if installed: it sets the parent-death signal and then execs the server. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class ChildRedisServer implements RedisServer {
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly binary: string,
    private readonly readyTimeoutMs: number,
    private readonly log: ((line: string) => void) | undefined,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.stopped) {
      throw new OperatorError('CONFIG', `test redis on port ${this.port} was stopped for good`);
    }
    if (this.child) return;
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--save', '',
      '--appendonly', 'yes',
      '--appendfsync', 'always',
      '--logfile', '',
    ]; // prettier-ignore
    const child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', this.binary, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    let output = '';
    const onData = (d: Buffer): void => {
      const text = d.toString('utf8');
      output = (output + text).slice(-4000);
      if (this.log) for (const line of text.split('\n')) if (line) this.log(line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let exitInfo: string | undefined;
    let spawnError: unknown;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        exitInfo = `could not run ${this.binary}: ${errorMessage(err)}`;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = `exited with ${signal ?? `code ${code ?? '?'}`}`;
        resolve();
      });
    }).finally(() => {
      live.delete(child);
      if (this.child === child) this.child = undefined;
    });

    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      if (exitInfo !== undefined) {
        throw new OperatorError(
          'CONFIG',
          `test redis (${this.binary}) on port ${this.port} ${exitInfo}; output:\n${output}`,
          { cause: spawnError },
        );
      }
      if (await ping(this.port, 500)) return;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await this.exited;
        throw new OperatorError(
          'CONFIG',
          `test redis on port ${this.port} did not answer PING within ${this.readyTimeoutMs} ms; output:\n${output}`,
        );
      }
      await sleep(20);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (child) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    dirsToRemove.delete(this.dir);
  }

  async restart(downMs = 0): Promise<void> {
    await this.kill();
    if (downMs > 0) await sleep(downMs);
    await this.start();
  }
}

/**
 * Starts a `redis-server` on a free loopback port in a new temporary directory and resolves
 * once it answers PING. Throws `OperatorError` 'CONFIG' when the server cannot be run.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  hookProcessExit();
  const binary = opts.binary ?? process.env['REDIS_SERVER'] ?? 'redis-server';
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  // A port found free can be taken before the server binds it: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-redis-'));
    dirsToRemove.add(dir);
    const server = new ChildRedisServer(await freePort(), dir, binary, readyTimeoutMs, opts.log);
    try {
      await server.start();
      return server;
    } catch (err) {
      lastError = err;
      await server.stop();
    }
  }
  throw lastError instanceof Error
    ? lastError
    : new OperatorError('CONFIG', 'could not start a test redis', { cause: lastError });
}
