#!/usr/bin/env node
/**
 * `palisade-cni`, the CNI plugin the container runtime executes. Wiring only: real
 * `ip`, `/proc/sys`, the shim's unix socket, stdin/stdout/stderr.
 */
import { buildErrorResult } from './result.js';
import { asCniError, runCni } from './run.js';
import { procSysctl } from './veth.js';
import { systemIpRunner } from './ip.js';
import { unixSocketShim } from './shimClient.js';
import { CURRENT_VERSION } from './version.js';
import type { CniDeps } from './deps.js';

let answered = false;

/** Last resort: an error nothing else caught still becomes a CNI error result. */
function crash(err: unknown): void {
  const e = asCniError(err);
  process.stderr.write(`palisade-cni: ${e.message}\n`);
  if (!answered) {
    answered = true;
    process.stdout.write(`${JSON.stringify(buildErrorResult(CURRENT_VERSION, e))}\n`);
  }
  process.exitCode = 1;
}
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const deps: CniDeps = {
  link: { ip: systemIpRunner(), sysctl: procSysctl },
  shim: (socketPath) => unixSocketShim(socketPath),
  log: (line) => process.stderr.write(`palisade-cni: ${line}\n`),
};

const out = await runCni(process.env, readStdin, deps);
if (!answered) {
  answered = true;
  process.stdout.write(out.stdout);
  process.exitCode = out.exitCode;
}
