#!/usr/bin/env -S node --max-semi-space-size=2 --expose-gc
/**
 * palisade-shim: the node shim process. Wiring only: options → datapath → shim → local
 * policy source and local API, timers, signals, memory.
 *
 * Memory (measured with `dist/bench/memory.bench.js`, see docs/benchmarks.md): the shebang
 * caps V8's young generation at 2 × 2 MiB (by default it grows to 2 × 16 MiB on the burst
 * of reading a snapshot, for a live heap of ~20 MiB) and exposes `gc`, which the memory
 * releaser runs once after a new state so the previous one does not stay resident; glibc's
 * mmap threshold is fixed so large blocks (a snapshot file read) go back when freed. Run
 * as `node dist/main.js`, the shim works the same, with more memory.
 *
 *   palisade-shim --node NAME (--policy-dir DIR… | --compiled FILE) [--socket PATH] [--state-dir DIR]
 *                 [--bpffs /sys/fs/bpf] [--capacity-policy N] [--capacity-ipcache N]
 *                 [--capacity-endpoints N] [--resync-interval MS] [--source-interval MS]
 *                 [--events-per-sec N] [--hook auto|tcx|tc]
 *
 * The policy comes from YAML objects compiled here (`--policy-dir`, for development and
 * tests) or from a compiled snapshot (`--compiled`, the shape the operator sends), re-read
 * when the files change, on SIGHUP, and on `POST /v1/reload`.
 *
 * On SIGTERM/SIGINT it stops serving and exits, leaving the programs attached and the
 * maps pinned: enforcement continues while it is away.
 */
import { hostname } from 'node:os';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Datapath, type SizedMap } from './bpf/datapath.js';
import { ShimError } from './errors.js';
import { jsonLogger } from './log.js';
import { EndpointRegistry } from './reconciler/registry.js';
import { emptyState } from '@palisade/core';
import { LocalSource } from './source/localSource.js';
import { readSnapshot } from './source/snapshotSource.js';
import { Shim } from './shim.js';
import { serveLocalApi } from './api/server.js';
import { defaultSocket } from './api/client.js';
import { addon } from './native/addon.js';
import { MemoryReleaser } from './memoryRelease.js';

function fingerprint(paths: readonly string[]): string {
  const parts: string[] = [];
  const walk = (p: string): void => {
    try {
      const st = statSync(p);
      if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n));
      else parts.push(`${p}:${st.size}:${st.mtimeMs}`);
    } catch {
      parts.push(`${p}:missing`);
    }
  };
  paths.forEach(walk);
  return parts.join('|');
}

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new ShimError('INVALID_REQUEST', `--${name} must be a positive integer, got ${v}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      node: { type: 'string' },
      'policy-dir': { type: 'string', multiple: true },
      compiled: { type: 'string' },
      socket: { type: 'string' },
      'state-dir': { type: 'string' },
      bpffs: { type: 'string' },
      'capacity-policy': { type: 'string' },
      'capacity-ipcache': { type: 'string' },
      'capacity-endpoints': { type: 'string' },
      'resync-interval': { type: 'string' },
      'source-interval': { type: 'string' },
      'events-per-sec': { type: 'string' },
      hook: { type: 'string' },
    },
    strict: true,
  });
  const node = values.node ?? hostname();
  const log = jsonLogger('shim');
  const capacity: Partial<Record<SizedMap, number>> = {};
  for (const [flagName, map] of [
    ['capacity-policy', 'pal_policy'],
    ['capacity-ipcache', 'pal_ipcache'],
    ['capacity-endpoints', 'pal_endpoints'],
  ] as const) {
    const n = positive(flagName, values[flagName]);
    if (n !== undefined) capacity[map] = n;
  }
  const hook = values.hook ?? 'auto';
  if (hook !== 'auto' && hook !== 'tcx' && hook !== 'tc')
    throw new ShimError('INVALID_REQUEST', `--hook must be auto, tcx or tc, got ${hook}`);
  const datapath = Datapath.open({
    node,
    ...(values.bpffs ? { bpffs: values.bpffs } : {}),
    capacity,
    hook,
  });
  addon().mallocTune(128 * 1024, 1024 * 1024);
  const gc = (globalThis as { gc?: () => void }).gc; // present under --expose-gc
  const releaser = new MemoryReleaser({
    ...(gc ? { gc } : {}),
    trim: () => void addon().mallocTrim(),
  });
  const stateDir = values['state-dir'] ?? `/var/lib/palisade/${node}`;
  const registry = new EndpointRegistry(join(stateDir, 'endpoints.json'));
  const eventsPerSec = positive('events-per-sec', values['events-per-sec']);
  const shim = new Shim({
    node,
    datapath,
    registry,
    log,
    ...(eventsPerSec !== undefined ? { eventsPerSec } : {}),
  });
  if (values.compiled && values['policy-dir'])
    throw new ShimError('INVALID_REQUEST', 'give --policy-dir or --compiled, not both');
  const compiled = values.compiled;
  const paths = compiled ? [compiled] : (values['policy-dir'] ?? []);
  const local = compiled ? undefined : new LocalSource(paths);
  let state = compiled ? readSnapshot(compiled) : emptyState();
  const reload = (): void => {
    if (local) {
      for (const p of local.reload()) log.warn('policy source problem', { ...p });
      state = local.state;
    } else if (compiled) state = readSnapshot(compiled);
  };
  if (local) reload();
  const applied = shim.start(state);
  releaser.changed();
  log.info('shim started', {
    node,
    pinDir: datapath.pinDir,
    hook: datapath.hook,
    endpoints: registry.list().length,
    applied,
  });

  let fp = fingerprint(paths);
  const socket = values.socket ?? defaultSocket(node);
  const server = await serveLocalApi(shim, socket, {
    reload: () => {
      fp = fingerprint(paths);
      reload();
      const r = shim.setState(state);
      releaser.changed();
      return r;
    },
  });
  log.info('local API listening', { socket });

  const guard = (what: string, f: () => void) => (): void => {
    try {
      f();
    } catch (e) {
      log.error(`${what} failed`, { error: (e as Error).message });
    }
  };
  const timers = [
    setInterval(
      guard('flow polling', () => void shim.pollFlows()),
      200,
    ),
    setInterval(
      guard('resync', () => void shim.reconcile({ resync: true })),
      positive('resync-interval', values['resync-interval']) ?? 30000,
    ),
    setInterval(
      guard('policy reload', () => {
        const next = fingerprint(paths);
        if (next === fp) return;
        fp = next;
        reload();
        const r = shim.setState(state);
        releaser.changed();
        log.info('policy applied', { ...r });
      }),
      positive('source-interval', values['source-interval']) ?? 1000,
    ),
  ];
  process.on(
    'SIGHUP',
    guard('policy reload', () => {
      reload();
      shim.setState(state);
      releaser.changed();
    }),
  );
  const stop = (): void => {
    for (const t of timers) clearInterval(t);
    releaser.close();
    server.close();
    shim.close();
    log.info('shim stopped; the datapath keeps enforcing');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  const code = e instanceof ShimError ? e.code : 'INTERNAL';
  process.stderr.write(`palisade-shim: ${code}: ${(e as Error).message}\n`);
  process.exit(1);
});
