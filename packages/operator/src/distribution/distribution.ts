/**
 * Policy distribution assembled around an operator: the CA (from its Secret), the server
 * certificate, the distributor following the operator's terms and deltas, the gRPC server
 * (node streams, bootstrap, integrators' API, health, reflection) and the Enforced status
 * writer. Used by `main.ts` and by the suites that run the operator in-process.
 */
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { IdentityInfo } from '@palisade/core';
import { palisadeGrpc } from '@palisade/api';
import type { KubeClient } from '../kube/client.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Operator } from '../operator.js';
import { EnforcedStatusWriter } from '../controllers/enforcedStatus.js';
import { Distributor } from './distributor.js';
import { DistributionServer } from './server.js';
import { loadOrCreateCa, type CertificateAuthority } from './pki/ca.js';
import { issueServerCertificate } from './pki/certificates.js';
import { checkPeer } from './pki/peer.js';
import { CertificateIssuer } from './pki/bootstrap.js';
import { authenticateBearer } from './pki/bearer.js';
import { integrationsHandlers } from './integrations/integrationsService.js';
import { addHealthAndReflection, type HealthHandle } from './integrations/healthAndReflection.js';
import type { AuthorizableCall, AuthorizeResult } from './integrations/integrationsContext.js';

/** Options of `startDistribution`. */
export interface DistributionOptions {
  readonly client: KubeClient;
  /** The operator's namespace (CA Secret and ConfigMap, shim service account default). */
  readonly namespace: string;
  /** `host:port` of the gRPC server. */
  readonly address: string;
  /** Extra names for the server certificate. */
  readonly names?: readonly string[];
  readonly shimServiceAccount?: { namespace: string; name: string };
  /** Bytes a blocked node stream may queue (default 16 MiB). */
  readonly maxQueuedBytes?: number;
  readonly metrics?: OperatorMetrics;
  readonly logger?: Logger;
}

/** A running distribution. */
export interface RunningDistribution {
  readonly ca: CertificateAuthority;
  readonly distributor: Distributor;
  readonly server: DistributionServer;
  readonly port: number;
  /** Stops the server and the status writer. */
  stop(): Promise<void>;
}

/** Starts distribution for `operator` (call before `operator.run`). */
export async function startDistribution(
  operator: Operator,
  o: DistributionOptions,
): Promise<RunningDistribution> {
  const log = o.logger ?? silentLogger;
  const ca = await loadOrCreateCa(o.client, o.namespace, { logger: log });
  const names = new Set([
    'localhost',
    'palisade-operator',
    `palisade-operator.${o.namespace}`,
    `palisade-operator.${o.namespace}.svc`,
    '127.0.0.1',
    '::1',
    ...(o.names ?? []),
  ]);
  const cert = await issueServerCertificate(ca, {
    dnsNames: [...names].filter((n) => isIP(n) === 0),
    ips: [...names].filter((n) => isIP(n) !== 0),
  });
  const distributor = new Distributor({
    ...(o.metrics ? { metrics: o.metrics } : {}),
    logger: log,
    ...(o.maxQueuedBytes !== undefined ? { maxQueuedBytes: o.maxQueuedBytes } : {}),
  });
  const identityListeners = new Set<
    (added: readonly IdentityInfo[], removed: readonly number[], revision: number) => void
  >();
  operator.onTerm({
    started: () => distributor.startTerm(),
    ready: () => distributor.setReady(),
    ended: () => {
      distributor.endTerm('leadership ended');
      // Watches notice the lost engine on their next event: give them one now.
      for (const l of identityListeners) l([], [], distributor.revision);
    },
  });
  operator.onDelta((ev) => {
    const engine = operator.engine;
    if (!engine) return;
    distributor.applyDelta(ev.delta, engine.compiled, ev.policies);
    if (ev.delta.identities.upsert.length > 0 || ev.delta.identities.remove.length > 0)
      for (const l of identityListeners)
        l(ev.delta.identities.upsert, ev.delta.identities.remove, distributor.revision);
  });
  const realization = () => {
    const engine = operator.engine;
    return engine && distributor.leading
      ? distributor.realization((k) => engine.policySubjects(k))
      : [];
  };
  const writer = new EnforcedStatusWriter({
    client: o.client,
    // Only our kinds get status; the writer skips NetworkPolicy (served by the API).
    realization,
    informers: () => operator.informers,
    logger: log,
  });
  distributor.onChange(() => writer.changed());
  const issuer = new CertificateIssuer({
    client: o.client,
    ca,
    namespace: o.namespace,
    ...(o.shimServiceAccount ? { shimServiceAccount: o.shimServiceAccount } : {}),
    logger: log,
  });
  const authorize = async (call: AuthorizableCall): Promise<AuthorizeResult> => {
    try {
      return await authorizeCall(call);
    } catch (err) {
      return {
        ok: false,
        code: grpc.status.UNAVAILABLE,
        message: `cannot check the caller now: ${errorMessage(err)}`,
      };
    }
  };
  const authorizeCall = async (call: AuthorizableCall): Promise<AuthorizeResult> => {
    const auth = String(call.metadata.get('authorization')[0] ?? '');
    if (auth) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (!m)
        return {
          ok: false,
          code: grpc.status.UNAUTHENTICATED,
          message: 'malformed authorization metadata; use "Bearer <token>"',
        };
      const r = await authenticateBearer(o.client, m[1] as string, {
        verb: 'list',
        group: 'palisade.dev',
        resource: 'securityidentities',
      });
      if (r.ok) return { ok: true, who: r.user.username };
      o.metrics?.streamsRefused.inc({ reason: `integrations-${r.code}` });
      return {
        ok: false,
        code:
          r.code === 'PERMISSION_DENIED'
            ? grpc.status.PERMISSION_DENIED
            : grpc.status.UNAUTHENTICATED,
        message: r.message,
      };
    }
    const peer = checkPeer(ca, call.getAuthContext()?.sslPeerCertificate, Date.now());
    if (peer.ok) return { ok: true, who: `node:${peer.node}` };
    o.metrics?.streamsRefused.inc({ reason: `integrations-${peer.reason}` });
    return {
      ok: false,
      code: grpc.status.UNAUTHENTICATED,
      message: `a client certificate signed by the palisade CA or an authorization bearer token is required (${peer.reason})`,
    };
  };
  let health: HealthHandle | undefined;
  const server = new DistributionServer({
    address: o.address,
    caPem: ca.certPem,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    distributor,
    checkPeer: (p) => checkPeer(ca, p as Parameters<typeof checkPeer>[1], Date.now()),
    issuer,
    leader: () => operator.leader,
    configure: (s) => {
      s.addService(
        palisadeGrpc().palisade.v1.Integrations.service,
        integrationsHandlers({
          engine: () => (distributor.leading ? operator.engine : undefined),
          leader: () => operator.leader,
          revision: () => distributor.revision,
          onIdentities: (l) => {
            identityListeners.add(l);
            return () => identityListeners.delete(l);
          },
          policyStatus: realization,
          authorize,
        }),
      );
      health = addHealthAndReflection(s, {
        services: ['palisade.v1.Integrations', 'palisade.v1.Distribution'],
      });
    },
    ...(o.metrics ? { metrics: o.metrics } : {}),
    logger: log,
  });
  const port = await server.start();
  return {
    ca,
    distributor,
    server,
    port,
    async stop() {
      health?.setAll('NOT_SERVING');
      writer.stop();
      distributor.endTerm('operator stopping');
      await server.stop();
    },
  };
}
