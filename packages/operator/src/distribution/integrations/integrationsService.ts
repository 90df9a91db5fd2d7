/**
 * The `palisade.v1.Integrations` handlers: the read-only API for integrators, answered
 * from the leader's compiled state.
 *
 * Every call is first authorized (`ctx.authorize`; a refusal answers with its code), then
 * answered UNAVAILABLE on a standby (naming the leader), then computed. Requests the
 * state cannot answer end with the IntegrationsError's status; anything else a handler
 * throws is answered INTERNAL with its message, never dropped.
 */
import type * as grpc from '@grpc/grpc-js';
import type { PolicyEngine } from '@palisade/core';
import type { IntegrationsHandlers, PolicyStatus } from '@palisade/api';
import type { AuthorizableCall, IntegrationsContext } from './integrationsContext.js';
import { IntegrationsError, statusOf } from './integrationsError.js';
import { listIdentities, parseLabelFilter } from './identityQuery.js';
import { endpointPolicy } from './endpointPolicy.js';
import { EvaluatorCache } from './evaluatorCache.js';
import { simulateFlow } from './flowSimulation.js';
import { watchIdentities, type IdentityWatchOptions } from './identityWatch.js';

/** Options of the handlers. */
export interface IntegrationsOptions {
  /** WatchIdentities: change events allowed to wait for a slow reader. */
  readonly watch?: IdentityWatchOptions;
}

/** An authorization refusal, carried to the answer with the code `authorize` chose. */
class Refusal extends Error {
  override readonly name = 'Refusal';
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** Authorizes a call and finds the leader's engine; throws the refusal as a status. */
async function admit(ctx: IntegrationsContext, call: AuthorizableCall): Promise<PolicyEngine> {
  const auth = await ctx.authorize(call);
  if (!auth.ok) throw new Refusal(auth.code, auth.message);
  const engine = ctx.engine();
  if (!engine)
    throw new IntegrationsError(
      'NOT_LEADER',
      `not the leader; leader is ${ctx.leader() ?? 'unknown (an election is under way)'}`,
    );
  return engine;
}

function toStatus(err: unknown): Partial<grpc.StatusObject> {
  return err instanceof Refusal ? { code: err.code, details: err.message } : statusOf(err);
}

/** A unary handler from a function of the admitted engine and the request. */
function unary<Req, Res>(
  ctx: IntegrationsContext,
  answer: (engine: PolicyEngine, request: Req) => Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    admit(ctx, call).then(
      (engine) => {
        let response: Res;
        try {
          response = answer(engine, call.request);
        } catch (err) {
          callback(toStatus(err));
          return;
        }
        callback(null, response);
      },
      (err: unknown) => callback(toStatus(err)),
    );
  };
}

/** The handlers of `palisade.v1.Integrations`, for `server.addService`. */
export function integrationsHandlers(
  ctx: IntegrationsContext,
  options: IntegrationsOptions = {},
): IntegrationsHandlers {
  const evaluators = new EvaluatorCache();
  return {
    ListIdentities: unary(ctx, (engine, req) => ({
      identities: listIdentities(engine.compiled, parseLabelFilter(req.labelFilter)),
      revision: ctx.revision(),
    })),

    WatchIdentities: (call) => {
      admit(ctx, call).then(
        (engine) => {
          try {
            watchIdentities(ctx, engine, call, options.watch);
          } catch (err) {
            call.emit('error', toStatus(err));
          }
        },
        (err: unknown) => call.emit('error', toStatus(err)),
      );
    },

    GetEndpointPolicy: unary(ctx, (engine, req) => endpointPolicy(engine.compiled, req)),

    Simulate: unary(ctx, (engine, req) =>
      simulateFlow(engine, evaluators.get(engine, ctx.revision()), req),
    ),

    ListPolicyStatus: unary(ctx, () => ({
      policies: [...ctx.policyStatus()]
        .sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0))
        .map((p): PolicyStatus => ({
          policy: p.policy,
          nodesRealized: p.nodesRealized,
          nodesDesired: p.nodesDesired,
          revision: p.revision,
        })),
    })),
  };
}
