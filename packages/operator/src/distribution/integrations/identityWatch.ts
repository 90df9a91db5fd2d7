/**
 * WatchIdentities: the identities in use when the watch starts (one TYPE_INITIAL event
 * each, then TYPE_INITIAL_DONE), then TYPE_REMOVED / TYPE_ADDED events as revisions
 * change them (removals of a revision before its additions, as deltas apply).
 *
 * A watcher that does not read is not allowed to grow the operator's memory: once more
 * than `maxBacklog` change events wait to be sent, the stream ends with
 * RESOURCE_EXHAUSTED and the client watches again (it gets a fresh initial list). A watch
 * that sees a change after its engine stopped being the leader's ends UNAVAILABLE.
 */
import * as grpc from '@grpc/grpc-js';
import type { IdentityInfo, PolicyEngine } from '@palisade/core';
import type { IntegrationsHandlers } from '@palisade/api';
import type { IntegrationsContext } from './integrationsContext.js';
import { toWireIdentity } from './identityQuery.js';

/** The server side of one WatchIdentities call. */
export type WatchCall = Parameters<IntegrationsHandlers['WatchIdentities']>[0];

/** Options of a watch. */
export interface IdentityWatchOptions {
  /** Change events allowed to wait for a slow reader before the stream is ended (default 10,000). */
  readonly maxBacklog?: number;
}

/** Serves one watch until the client cancels it (or reads too slowly). */
export function watchIdentities(
  ctx: IntegrationsContext,
  engine: PolicyEngine,
  call: WatchCall,
  options: IdentityWatchOptions = {},
): void {
  // The client may have gone while the call was being authorized.
  if (call.cancelled || call.destroyed) return;
  const known = new Map<number, IdentityInfo>();
  const initial = [...engine.compiled.identities.values()].sort((a, b) => a.id - b.id);
  const limit = initial.length + (options.maxBacklog ?? 10_000);
  let done = false;
  const unsubscribe = ctx.onIdentities((added, removed, revision) => {
    if (done) return;
    if (ctx.engine() !== engine) {
      end(
        grpc.status.UNAVAILABLE,
        `leadership changed (leader is ${ctx.leader() ?? 'unknown'}); watch again`,
      );
      return;
    }
    for (const id of removed) {
      const info = known.get(id) ?? { id, labels: [] };
      known.delete(id);
      call.write({ type: 'TYPE_REMOVED', identity: toWireIdentity(info), revision });
    }
    for (const info of added) {
      known.set(info.id, info);
      call.write({ type: 'TYPE_ADDED', identity: toWireIdentity(info), revision });
    }
    if (call.writableLength > limit)
      end(
        grpc.status.RESOURCE_EXHAUSTED,
        `the watcher fell more than ${limit} messages behind; watch again`,
      );
  });
  function end(code: grpc.status, details: string): void {
    stop();
    const status: Partial<grpc.StatusObject> = { code, details };
    call.emit('error', status);
  }
  function stop(): void {
    if (done) return;
    done = true;
    unsubscribe();
  }
  call.once('cancelled', stop);
  call.once('close', stop);
  const revision = ctx.revision();
  for (const info of initial) {
    known.set(info.id, info);
    call.write({ type: 'TYPE_INITIAL', identity: toWireIdentity(info), revision });
  }
  call.write({ type: 'TYPE_INITIAL_DONE', revision });
}
