/**
 * The operator's command line → a checked configuration. Pure: no I/O, so every refusal is
 * unit-tested. Durations take `ms`, `s`, `m`, `h` suffixes (`15m`, `500ms`).
 */
import { parseArgs } from 'node:util';
import { OperatorError } from './errors.js';
import type { IdentityStoreKind } from './identity/store.js';
import type { LogLevel } from './log.js';

/** The configuration. */
export interface OperatorConfig {
  readonly kubeconfig?: string;
  readonly namespace: string;
  readonly identity: string;
  readonly identityStore: IdentityStoreKind;
  readonly redisUrl?: string;
  readonly identityGraceMs: number;
  readonly identityGcIntervalMs?: number;
  readonly highCardinalityThreshold: number;
  readonly excludeLabels?: readonly string[];
  readonly includeLabels?: readonly string[];
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly leaseName: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly workers: number;
  readonly logLevel: LogLevel;
  /** gRPC server address (`host:port`); the node streams, bootstrap and integrators' API. */
  readonly grpcAddress: string;
  /** Extra DNS names / IP addresses in the server certificate. */
  readonly grpcNames: readonly string[];
  /** The shims' service account (`namespace/name`) allowed to bootstrap node certificates. */
  readonly shimServiceAccount: { namespace: string; name: string };
}

/** Usage text. */
export const USAGE = `palisade-operator [options]

  --kubeconfig FILE              kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --namespace NS                 the operator's namespace: lease, identity counter, events
                                 (default: $POD_NAMESPACE or palisade-system)
  --id NAME                      this replica's name in the lease (default: $POD_NAME or host-pid)
  --identity-store crd|redis     where identities live (default crd)
  --redis-url URL                redis://host:port/db (required with --identity-store redis)
  --identity-grace DURATION      how long an unused identity is kept (default 15m)
  --identity-gc-interval DURATION  how often GC runs (default: a tenth of the grace, 1s–60s)
  --high-cardinality-threshold N identities one label key may produce before it is reported (default 256)
  --exclude-label KEY            label key (or prefix*) left out of identities (repeatable;
                                 replaces the default list)
  --include-label KEY            keep this key even if excluded (repeatable)
  --metrics-addr HOST:PORT       /metrics, /healthz, /readyz (default 0.0.0.0:9877; port 0 = any)
  --lease-name NAME              (default palisade-operator)
  --lease-duration DURATION      (default 15s)
  --renew-deadline DURATION      (default 10s)
  --retry-period DURATION        (default 2s)
  --workers N                    concurrent reconciles (default 8)
  --log-level debug|info|warn|error (default info)
  --grpc-addr HOST:PORT          gRPC: node policy streams, certificate bootstrap, integrators' API
                                 (default 0.0.0.0:9878; port 0 = any)
  --grpc-name NAME               DNS name or IP for the server certificate (repeatable; always
                                 includes localhost, 127.0.0.1, ::1 and the operator Service names)
  --shim-service-account NS/NAME service account whose pod-bound tokens may bootstrap node
                                 certificates (default <namespace>/palisade-shim)
`;

/** Parses a duration such as `15m`, `30s`, `250ms`, `1h` into milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m)
    throw new OperatorError(
      'CONFIG',
      `--${flag}: "${v}" is not a duration like 500ms, 30s, 15m or 1h`,
    );
  const n = Number(m[1]);
  const unit = m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * unit);
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new OperatorError('CONFIG', `--${flag}: "${v}" is not a positive integer`);
  return n;
}

/** Parses the command line (`argv` without node and the script) with `env` for defaults. */
export function parseConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  host: string,
): OperatorConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        id: { type: 'string' },
        'identity-store': { type: 'string' },
        'redis-url': { type: 'string' },
        'identity-grace': { type: 'string' },
        'identity-gc-interval': { type: 'string' },
        'high-cardinality-threshold': { type: 'string' },
        'exclude-label': { type: 'string', multiple: true },
        'include-label': { type: 'string', multiple: true },
        'metrics-addr': { type: 'string' },
        'lease-name': { type: 'string' },
        'lease-duration': { type: 'string' },
        'renew-deadline': { type: 'string' },
        'retry-period': { type: 'string' },
        workers: { type: 'string' },
        'log-level': { type: 'string' },
        'grpc-addr': { type: 'string' },
        'grpc-name': { type: 'string', multiple: true },
        'shim-service-account': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new OperatorError(
      'CONFIG',
      `${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`,
    );
  }
  const store = values['identity-store'] ?? 'crd';
  if (store !== 'crd' && store !== 'redis')
    throw new OperatorError('CONFIG', `--identity-store: "${store}" is not crd or redis`);
  const redisUrl = values['redis-url'] ?? env.PALISADE_REDIS_URL;
  if (store === 'redis' && !redisUrl)
    throw new OperatorError('CONFIG', '--identity-store redis needs --redis-url redis://host:port');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl))
    throw new OperatorError(
      'CONFIG',
      `--redis-url: "${redisUrl}" does not start with redis:// or rediss://`,
    );
  const addr = values['metrics-addr'] ?? '0.0.0.0:9877';
  const am = /^(.*):(\d+)$/.exec(addr);
  if (!am || Number(am[2]) > 65535)
    throw new OperatorError('CONFIG', `--metrics-addr: "${addr}" is not HOST:PORT`);
  const level = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new OperatorError('CONFIG', `--log-level: "${level}" is not debug, info, warn or error`);
  const leaseMs = parseDuration('lease-duration', values['lease-duration'] ?? '15s');
  const renewMs = parseDuration('renew-deadline', values['renew-deadline'] ?? '10s');
  const retryMs = parseDuration('retry-period', values['retry-period'] ?? '2s');
  if (!(retryMs < renewMs && renewMs < leaseMs))
    throw new OperatorError(
      'CONFIG',
      'lease timings must satisfy retry-period < renew-deadline < lease-duration',
    );
  const grpcAddress = values['grpc-addr'] ?? '0.0.0.0:9878';
  const gm = /^(.*):(\d+)$/.exec(grpcAddress);
  if (!gm || Number(gm[2]) > 65535)
    throw new OperatorError('CONFIG', `--grpc-addr: "${grpcAddress}" is not HOST:PORT`);
  const namespace = values.namespace ?? env.POD_NAMESPACE ?? 'palisade-system';
  const sa = values['shim-service-account'] ?? `${namespace}/palisade-shim`;
  const sam = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(sa);
  if (!sam)
    throw new OperatorError('CONFIG', `--shim-service-account: "${sa}" is not NAMESPACE/NAME`);
  const grace = parseDuration('identity-grace', values['identity-grace'] ?? '15m');
  const kubeconfig = values.kubeconfig ?? env.KUBECONFIG;
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    namespace,
    identity: values.id ?? env.POD_NAME ?? `${host}-${env.PALISADE_PID ?? process.pid}`,
    identityStore: store,
    ...(redisUrl !== undefined ? { redisUrl } : {}),
    identityGraceMs: grace,
    ...(values['identity-gc-interval']
      ? {
          identityGcIntervalMs: parseDuration(
            'identity-gc-interval',
            values['identity-gc-interval'],
          ),
        }
      : {}),
    highCardinalityThreshold: positiveInt(
      'high-cardinality-threshold',
      values['high-cardinality-threshold'] ?? '256',
    ),
    ...(values['exclude-label'] ? { excludeLabels: values['exclude-label'] } : {}),
    ...(values['include-label'] ? { includeLabels: values['include-label'] } : {}),
    metricsHost: am[1] ?? '0.0.0.0',
    metricsPort: Number(am[2]),
    leaseName: values['lease-name'] ?? 'palisade-operator',
    leaseDurationSeconds: Math.max(1, Math.round(leaseMs / 1000)),
    renewDeadlineMs: renewMs,
    retryPeriodMs: retryMs,
    workers: positiveInt('workers', values.workers ?? '8'),
    logLevel: level as LogLevel,
    grpcAddress,
    grpcNames: values['grpc-name'] ?? [],
    shimServiceAccount: { namespace: sam[1] as string, name: sam[2] as string },
  };
}
