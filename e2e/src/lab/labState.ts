/**
 * `<dir>/state.json`: what a running lab tells the `palisade lab` commands of other
 * processes (where the kubeconfig is, which slot it holds, where each shim's socket is,
 * which processes belong to it). Written by the lab when it is ready; removed by `down`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning } from '../harness/process.js';
import { LabError } from './labError.js';

/** A node, as recorded. */
export interface NodeState {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
  readonly podCidr: string;
  readonly socket: string;
  readonly shimPid?: number;
}

/** The state file. */
export interface LabState {
  readonly version: 1;
  /** The process that holds the lab (the lab daemon, or a test process). */
  readonly pid: number;
  readonly slot: number;
  readonly dir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly identityStore: 'crd' | 'redis';
  readonly redisUrl?: string;
  readonly operator: { readonly pid?: number; readonly metricsPort: number; readonly grpc: string };
  readonly nodes: readonly NodeState[];
  /** Where the nodes' maps are pinned. */
  readonly bpffs: string;
  /** The control plane's directory (etcd data, PKI, logs), removed by `down`. */
  readonly controlPlaneDir: string;
  /** Every process the lab started (for the sweep of `down`). */
  readonly pids: readonly number[];
  readonly startedAt: string;
  readonly readyAfterMs: number;
}

/** The state file of a lab directory. */
export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

/** Writes the state atomically. */
export function writeState(s: LabState): void {
  const p = statePath(s.dir);
  writeFileSync(`${p}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(`${p}.tmp`, p);
}

/** The state of the lab in `dir`, or undefined when there is none. */
export function readState(dir: string): LabState | undefined {
  const p = statePath(dir);
  if (!existsSync(p)) return undefined;
  try {
    const s = JSON.parse(readFileSync(p, 'utf8')) as LabState;
    if (s.version !== 1) throw new Error(`unknown version ${String(s.version)}`);
    return s;
  } catch (err) {
    throw new LabError('STATE', `${p} is unreadable: ${(err as Error).message}`, { cause: err });
  }
}

/** The state of the lab in `dir`; throws `STATE` naming `lab up` when there is none. */
export function requireState(dir: string): LabState {
  const s = readState(dir);
  if (!s)
    throw new LabError('STATE', `no lab in ${dir}: start one with \`pnpm -s palisade lab up\``);
  return s;
}

/** True while process `pid` exists (and is not a zombie). */
export function alive(pid: number | undefined): boolean {
  return pid !== undefined && isRunning(pid);
}
