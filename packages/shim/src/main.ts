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
 *   palisade-shim --node NAME (--operator HOST:PORT --ca-file PEM
 *                               (--cert-file PEM --key-file PEM | --token-file FILE)
 *                               [--tls-server-name NAME] [--bootstrap-operator HOST:PORT]
 *                              | --policy-dir DIR… | --compiled FILE)
 *                 [--socket PATH] [--state-dir DIR]
 *                 [--bpffs /sys/fs/bpf] [--capacity-policy N] [--capacity-ipcache N]
 *                 [--capacity-endpoints N] [--resync-interval MS] [--source-interval MS]
 *                 [--events-per-sec N] [--hook auto|tcx|tc]
 *
 * The policy comes from exactly one of:
 * - the operator (`--operator`): the `Distribution/Subscribe` stream over mutual TLS
 *   (`client/`). The shim starts by adopting what the kernel holds and changes nothing
 *   until the first snapshot, which it applies as a diff; then deltas. Until then the
 *   periodic resync is skipped and endpoint registrations are refused (NOT_READY), so the
 *   kernel keeps what an earlier shim wrote. `--ca-file` is the operator's CA; the client
 *   certificate comes from `--cert-file`/`--key-file` (re-read on every reconnect), or is
 *   bootstrapped with a service-account token (`--token-file`, re-read for every request)
 *   through `Certificates.Issue` (at `--bootstrap-operator`, default `--operator`) and
 *   renewed at 2/3 of its lifetime. `--tls-server-name` overrides the name checked in the
 *   operator's certificate. The stream's state shows under `distribution` in the status.
 * - YAML objects compiled here (`--policy-dir`, for development and tests) or a compiled
 *   snapshot (`--compiled`, the shape the operator sends), re-read when the files change,
 *   on SIGHUP, and on `POST /v1/reload`.
 *
 * On SIGTERM/SIGINT it stops serving and exits, leaving the programs attached and the
 * maps pinned: enforcement continues while it is away.
 */
import { hostname, networkInterfaces } from 'node:os';
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
import { credentialSource, distributionConfig } from './client/config.js';
import { PolicyStream } from './client/policyStream.js';
import { OperatorConnection } from './client/operatorConnection.js';
import { GATEWAY_V4, GATEWAY_V6 } from './cni/gateway.js';

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
      operator: { type: 'string' },
      'ca-file': { type: 'string' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
      'token-file': { type: 'string' },
      'tls-server-name': { type: 'string' },
      'bootstrap-operator': { type: 'string' },
    },
    strict: true,
  });
  const node = values.node ?? hostname();
  const log = jsonLogger('shim');
  const dist = distributionConfig({
    operator: values.operator,
    caFile: values['ca-file'],
    certFile: values['cert-file'],
    keyFile: values['key-file'],
    tokenFile: values['token-file'],
    tlsServerName: values['tls-server-name'],
    bootstrapOperator: values['bootstrap-operator'],
  });
  if (dist && (values.compiled || values['policy-dir']))
    throw new ShimError('INVALID_REQUEST', 'give --operator, --policy-dir or --compiled, not two');
  if (values.compiled && values['policy-dir'])
    throw new ShimError('INVALID_REQUEST', 'give --policy-dir or --compiled, not both');
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
  let connection: OperatorConnection | undefined;
  const shim = new Shim({
    node,
    datapath,
    registry,
    log,
    ...(eventsPerSec !== undefined ? { eventsPerSec } : {}),
    ...(dist ? { distribution: () => connection?.status() } : {}),
    hostAddresses: hostAddresses(),
  });
  const compiled = values.compiled;
  const paths = dist ? [] : compiled ? [compiled] : (values['policy-dir'] ?? []);
  const local = dist || compiled ? undefined : new LocalSource(paths);
  let state = compiled ? readSnapshot(compiled) : emptyState();
  const reload = (): void => {
    if (local) {
      for (const p of local.reload()) log.warn('policy source problem', { ...p });
      state = local.state;
    } else if (compiled) state = readSnapshot(compiled);
  };
  if (local) reload();
  // From the operator: adopt the kernel as it is; the first snapshot is applied as a diff.
  const applied = dist ? shim.start() : shim.start(state);
  releaser.changed();
  log.info('shim started', {
    node,
    pinDir: datapath.pinDir,
    hook: datapath.hook,
    endpoints: registry.list().length,
    applied,
    ...(dist ? { operator: dist.target } : {}),
  });
  if (dist) {
    const stream = new PolicyStream({
      node,
      log,
      apply: (s) => {
        const r = shim.setState(s);
        releaser.changed();
        log.info('policy applied', { ...r });
      },
    });
    connection = new OperatorConnection({
      target: dist.target,
      ...(dist.tlsServerName !== undefined ? { tlsServerName: dist.tlsServerName } : {}),
      credentials: credentialSource(dist, node),
      stream,
      log,
    });
    connection.start();
  }

  let fp = fingerprint(paths);
  const socket = values.socket ?? defaultSocket(node);
  const server = await serveLocalApi(
    shim,
    socket,
    dist
      ? {}
      : {
          reload: () => {
            fp = fingerprint(paths);
            reload();
            const r = shim.setState(state);
            releaser.changed();
            return r;
          },
        },
  );
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
      guard('resync', () => {
        // Before the operator's first snapshot there is nothing to resync to.
        if (shim.hasState) shim.reconcile({ resync: true });
      }),
      positive('resync-interval', values['resync-interval']) ?? 30000,
    ),
  ];
  if (!dist) {
    timers.push(
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
    );
    process.on(
      'SIGHUP',
      guard('policy reload', () => {
        reload();
        shim.setState(state);
        releaser.changed();
      }),
    );
  }
  const stop = (): void => {
    connection?.stop();
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

/**
 * This node's addresses, read once at start from its interfaces, plus the pods' gateway
 * addresses (what a node's own traffic to its pods comes from): the ipcache maps them to
 * `host`. An address added to the node later is `remote-node` until the shim restarts.
 */
function hostAddresses(): string[] {
  const out = new Set<string>([GATEWAY_V4, GATEWAY_V6]);
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? [])
      if (!a.internal && !a.address.startsWith('fe80:')) out.add(a.address);
  return [...out];
}
