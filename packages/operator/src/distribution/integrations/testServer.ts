/**
 * Test helper: a fake operator behind the integrators' API (a real engine, a revision
 * counter, identity listeners and a token check), a real TLS grpc-js server on
 * 127.0.0.1:0 serving it with health and reflection, and typed clients. Only tests use it.
 */
import * as grpc from '@grpc/grpc-js';
import type { PolicyEngine } from '@palisade/core';
import { palisadeGrpc, type IntegrationsClient } from '@palisade/api';
import type {
  AuthorizableCall,
  AuthorizeResult,
  IdentityListener,
  IntegrationsContext,
} from './integrationsContext.js';
import type { PolicyRealization } from '../distributor.js';
import { integrationsHandlers, type IntegrationsOptions } from './integrationsService.js';
import { addHealthAndReflection, type HealthHandle } from './healthAndReflection.js';
import type { TestPki } from './testPki.js';

/** The token the fake accepts; `FORBIDDEN_TOKEN` authenticates but may not list identities. */
export const GOOD_TOKEN = 'good-token';
/** A token that authenticates but is refused PERMISSION_DENIED. */
export const FORBIDDEN_TOKEN = 'forbidden-token';

/** A fake operator: what a leader (or, with `engineOf` undefined, a standby) answers from. */
export class FakeOperator implements IntegrationsContext {
  rev = 1;
  leaderName: string | undefined = 'palisade-operator-0';
  statuses: PolicyRealization[] = [];
  readonly listeners = new Set<IdentityListener>();
  /** The callers `authorize` admitted, in order. */
  readonly admitted: string[] = [];

  constructor(public engineOf: PolicyEngine | undefined) {}

  engine(): PolicyEngine | undefined {
    return this.engineOf;
  }
  leader(): string | undefined {
    return this.leaderName;
  }
  revision(): number {
    return this.rev;
  }
  onIdentities(listener: IdentityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  policyStatus(): readonly PolicyRealization[] {
    return this.statuses;
  }
  authorize(call: AuthorizableCall): Promise<AuthorizeResult> {
    const [header] = call.metadata.get('authorization');
    let result: AuthorizeResult;
    if (header === `Bearer ${GOOD_TOKEN}`) result = { ok: true, who: 'system:serviceaccount:x:y' };
    else if (header === `Bearer ${FORBIDDEN_TOKEN}`)
      result = {
        ok: false,
        code: grpc.status.PERMISSION_DENIED,
        message: 'system:serviceaccount:x:z may not list securityidentities.palisade.dev',
      };
    else result = { ok: false, code: grpc.status.UNAUTHENTICATED, message: 'no bearer token' };
    if (result.ok) this.admitted.push(result.who);
    return Promise.resolve(result);
  }

  /** Flushes the engine as the operator does: a new revision, identity changes to listeners. */
  flush(): void {
    if (!this.engineOf) return;
    const d = this.engineOf.flush();
    this.rev++;
    for (const l of this.listeners) l(d.identities.upsert, d.identities.remove, this.rev);
  }
}

/** Client channel options: check the server certificate for `localhost` (TLS SNI takes no IP). */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.ssl_target_name_override': 'localhost',
};

/** A running test server. */
export interface TestServer {
  readonly address: string;
  readonly health: HealthHandle;
  /** A typed client; `token` is sent as `authorization: Bearer …` when given. */
  client(token?: string): IntegrationsClient;
  /** Channel credentials trusting the test CA (for raw clients). */
  credentials(): grpc.ChannelCredentials;
  stop(): Promise<void>;
}

/** Serves `ctx` (Integrations, health, reflection) over TLS on 127.0.0.1:0. */
export async function startTestServer(
  ctx: IntegrationsContext,
  pki: TestPki,
  options: IntegrationsOptions = {},
): Promise<TestServer> {
  const server = new grpc.Server();
  server.addService(
    palisadeGrpc().palisade.v1.Integrations.service,
    integrationsHandlers(ctx, options),
  );
  const health = addHealthAndReflection(server);
  const creds = grpc.ServerCredentials.createSsl(
    pki.ca,
    [{ cert_chain: pki.serverCert, private_key: pki.serverKey }],
    false,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `127.0.0.1:${port}`;
  const clients: grpc.Client[] = [];
  const credentials = (): grpc.ChannelCredentials => grpc.credentials.createSsl(pki.ca);
  return {
    address,
    health,
    credentials,
    client: (token) => {
      const channel =
        token === undefined
          ? credentials()
          : grpc.credentials.combineChannelCredentials(
              credentials(),
              grpc.credentials.createFromMetadataGenerator((_params, callback) => {
                const md = new grpc.Metadata();
                md.set('authorization', `Bearer ${token}`);
                callback(null, md);
              }),
            );
      const c = new (palisadeGrpc().palisade.v1.Integrations)(address, channel, CHANNEL_OPTIONS);
      clients.push(c);
      return c;
    },
    stop: () => {
      for (const c of clients) c.close();
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}

/** Calls a unary method as a promise: the response, or the ServiceError it ended with. */
export function call<Req, Res>(
  method: (req: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall,
  req: Req,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) =>
    method(req, (err, res) =>
      err ? reject(err) : res ? resolve(res) : reject(new Error('empty response')),
    ),
  );
}
