#!/usr/bin/env node
/**
 * palisade-operator: wiring only. Flags → kube client, identity store, metrics, health
 * endpoint → distribution (CA, gRPC server, status writer) → Operator. SIGTERM/SIGINT shut it down gracefully (the lease is released so a
 * standby takes over at once); a second signal exits immediately.
 */
import { hostname } from 'node:os';
import { parseConfig, USAGE } from './config.js';
import { OperatorError } from './errors.js';
import { startHealthServer } from './health.js';
import { CrdIdentityStore } from './identity/crdStore.js';
import { RedisIdentityStore } from './identity/redisStore.js';
import type { IdentityStore } from './identity/store.js';
import { KubeClient } from './kube/client.js';
import { jsonLogger } from './log.js';
import { OperatorMetrics } from './metrics.js';
import { Operator } from './operator.js';
import { startDistribution } from './distribution/distribution.js';

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = parseConfig(process.argv.slice(2), process.env, hostname());
  const log = jsonLogger('operator', {
    level: config.logLevel,
    fields: { replica: config.identity },
  });
  const client = KubeClient.load(config.kubeconfig);
  const store: IdentityStore =
    config.identityStore === 'redis'
      ? new RedisIdentityStore({ url: config.redisUrl ?? '', logger: log })
      : new CrdIdentityStore({ client, namespace: config.namespace, logger: log });
  const metrics = new OperatorMetrics();
  const operator = new Operator({
    client,
    store,
    metrics,
    namespace: config.namespace,
    identity: config.identity,
    leaseName: config.leaseName,
    leaseDurationSeconds: config.leaseDurationSeconds,
    renewDeadlineMs: config.renewDeadlineMs,
    retryPeriodMs: config.retryPeriodMs,
    identityGraceMs: config.identityGraceMs,
    ...(config.identityGcIntervalMs !== undefined
      ? { identityGcIntervalMs: config.identityGcIntervalMs }
      : {}),
    highCardinalityThreshold: config.highCardinalityThreshold,
    ...(config.excludeLabels || config.includeLabels
      ? {
          labelFilter: {
            ...(config.excludeLabels ? { exclude: config.excludeLabels } : {}),
            ...(config.includeLabels ? { include: config.includeLabels } : {}),
          },
        }
      : {}),
    workers: config.workers,
    logger: log,
  });
  const distribution = await startDistribution(operator, {
    client,
    namespace: config.namespace,
    address: config.grpcAddress,
    names: config.grpcNames,
    shimServiceAccount: config.shimServiceAccount,
    metrics,
    logger: log,
  });
  const stop = new AbortController();
  const health = await startHealthServer(
    { registry: metrics.registry, live: () => !stop.signal.aborted, ready: () => operator.ready() },
    config.metricsHost,
    config.metricsPort,
  );
  log.info('started', {
    identityStore: config.identityStore,
    namespace: config.namespace,
    server: client.server,
    metricsPort: health.port,
    grpcPort: distribution.port,
  });
  let signals = 0;
  const onSignal = (sig: string): void => {
    if (++signals > 1) process.exit(130);
    log.info('shutting down', { signal: sig });
    stop.abort();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  await operator.run(stop.signal);
  await distribution.stop();
  await store.close();
  await health.close();
  client.close();
  log.info('stopped');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const msg =
      err instanceof OperatorError
        ? `${err.code}: ${err.message}`
        : String(err instanceof Error ? err.stack : err);
    process.stderr.write(`palisade-operator: ${msg}\n`);
    process.exitCode = err instanceof OperatorError && err.code === 'CONFIG' ? 2 : 1;
  },
);
