/**
 * Waiting for a child process to become ready: a probe is polled until it passes, the
 * process exits (START_FAILED, with the end of its log) or time runs out (TIMEOUT).
 */
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet, type RequestOptions } from 'node:https';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlPlaneError } from './errors.js';
import { startFailed, type ManagedProcess } from './process.js';

/** A GET's status and body; `undefined` when the request failed (refused, reset, timeout). */
export interface ProbeResponse {
  readonly status: number;
  readonly body: string;
}

/** GETs a URL (http or https, with TLS options) with a short timeout. */
export function probeGet(
  url: string,
  tls: RequestOptions = {},
): Promise<ProbeResponse | undefined> {
  return new Promise((resolve) => {
    const onRes = (res: IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    };
    const req = url.startsWith('https:')
      ? httpsGet(url, { ...tls, timeout: 2000 }, onRes)
      : httpGet(url, { timeout: 2000 }, onRes);
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** The last `n` lines of a log file (empty when it cannot be read). */
export async function logTail(file: string, n = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/**
 * Polls `probe` every `intervalMs` until it returns true. Fails when `proc` exits first or
 * after `timeoutMs`.
 */
export async function waitReady(
  proc: ManagedProcess,
  logFile: string,
  probe: () => Promise<boolean>,
  o: { timeoutMs: number; intervalMs: number },
): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const exit = proc.exitInfo();
    if (exit) startFailed(proc, exit, logFile, await logTail(logFile));
    if (await probe()) return;
    if (Date.now() > deadline)
      throw new ControlPlaneError(
        'TIMEOUT',
        `${proc.name} not ready after ${o.timeoutMs} ms; last lines of ${logFile}:\n${await logTail(logFile)}`,
      );
    await sleep(o.intervalMs);
  }
}
