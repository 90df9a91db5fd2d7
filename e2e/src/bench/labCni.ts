/**
 * Palisade's own part of the kubelet's time to run a pod: the CNI plugin (`palisade-cni`, a
 * `node` process per call) wiring a namespace — veth, address, routes, and registering the
 * endpoint with the shim, which attaches the programs before it answers.
 *
 * Timed on a live lab node exactly as the stand-in kubelet runs it (`runCni`, in the node's
 * namespace), on namespaces of no pod: ADD, then DEL. Baseline: the same plugin answering
 * `VERSION` (the process start and module loading every call pays).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CNI_MAIN } from '@palisade/shim/testing';
import type { LabNode } from '../lab/lab.js';
import { ipAsync } from '../lab/labNetwork.js';
import { podNetns, runCni } from '../lab/podRuntime.js';
import { latencyStats, type LatencyStats } from './benchKit.js';
import { BENCH_NS } from './labWorkload.js';

/** The figures. */
export interface CniResult {
  readonly node: string;
  /** `VERSION`: process start + loading the plugin (baseline). */
  readonly version: LatencyStats;
  readonly add: LatencyStats;
  readonly del: LatencyStats;
}

/** `palisade-cni` with CNI_COMMAND=VERSION in the node's namespace; resolves when it exits. */
function version(node: LabNode): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', node.netns, process.execPath, CNI_MAIN], {
      env: { ...process.env, CNI_COMMAND: 'VERSION' },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`palisade-cni VERSION exited ${String(code)}`)),
    );
    child.stdin.end('{"cniVersion":"1.0.0"}');
  });
}

/** Times `n` VERSION calls and `n` ADD/DEL pairs on `node` (in `slot`'s namespaces). */
export async function cniTimes(slot: number, node: LabNode, n: number): Promise<CniResult> {
  const v: number[] = [];
  const add: number[] = [];
  const del: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    await version(node);
    v.push(performance.now() - t);
    const uid = randomUUID();
    const netns = podNetns(slot, uid);
    const pod = { namespace: BENCH_NS, name: `cni-bench-${i}` };
    await ipAsync('netns', 'add', netns);
    try {
      await ipAsync('-n', netns, 'link', 'set', 'lo', 'up');
      t = performance.now();
      await runCni(node, 'ADD', uid, netns, pod);
      add.push(performance.now() - t);
      t = performance.now();
      await runCni(node, 'DEL', uid, netns, pod);
      del.push(performance.now() - t);
    } finally {
      await ipAsync('netns', 'del', netns).catch(() => undefined);
    }
  }
  return {
    node: node.name,
    version: latencyStats(v),
    add: latencyStats(add),
    del: latencyStats(del),
  };
}
