/**
 * What the integrators' API needs from the operator: the leader's engine, the distribution
 * revision, identity changes, policy realization and a way to authorize a caller. The
 * handlers read nothing else, so a test can serve them from a fake.
 */
import type * as grpc from '@grpc/grpc-js';
import type { IdentityInfo, PolicyEngine } from '@palisade/core';
import type { PolicyRealization } from '../distributor.js';

/** The outcome of authorizing one call. A refusal carries the gRPC status to answer with. */
export type AuthorizeResult =
  | { readonly ok: true; readonly who: string }
  | { readonly ok: false; readonly code: grpc.status; readonly message: string };

/** A call as `authorize` sees it: metadata, peer, auth context. */
export type AuthorizableCall =
  grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** Called with the identities that appeared and disappeared in one distribution revision. */
export type IdentityListener = (
  added: readonly IdentityInfo[],
  removed: readonly number[],
  revision: number,
) => void;

/**
 * The operator as the integrators' API sees it.
 *
 * Invariant: `revision()` changes whenever the leader engine's compiled state does, in the
 * same tick as the flush that changed it (the distributor numbers each non-empty delta);
 * the API caches per-state indexes by (engine, revision).
 */
export interface IntegrationsContext {
  /** The leader's engine; undefined on a standby (every RPC then answers UNAVAILABLE). */
  engine(): PolicyEngine | undefined;
  /** The current leader's identity (pod name), when known — named in UNAVAILABLE answers. */
  leader(): string | undefined;
  /** The current distribution revision. */
  revision(): number;
  /** Subscribes to identity changes; returns the function that unsubscribes. */
  onIdentities(listener: IdentityListener): () => void;
  /** The realization of every policy the leader knows (the distributor's `realization`). */
  policyStatus(): readonly PolicyRealization[];
  /**
   * Authenticates and authorizes a caller (client certificate, or a bearer token that
   * passes a TokenReview and may list securityidentities.palisade.dev). Every RPC awaits it
   * first; a refusal is answered with its code and message.
   */
  authorize(call: AuthorizableCall): Promise<AuthorizeResult>;
}
