import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { IdentityEvent } from '@palisade/api';
import { watchIdentities, type WatchCall } from './identityWatch.js';
import { FakeOperator } from './testServer.js';
import { scenarioEngine } from './testScenario.js';

/** A server stream that records writes and reports a chosen backlog. */
class FakeStream extends EventEmitter {
  readonly written: IdentityEvent[] = [];
  cancelled = false;
  destroyed = false;
  /** What the stream reports as waiting to be sent. */
  writableLength = 0;
  write(e: IdentityEvent): boolean {
    this.written.push(e);
    return true;
  }
}

describe('watchIdentities', () => {
  it('ends a watcher that falls behind with RESOURCE_EXHAUSTED and unsubscribes', () => {
    const engine = scenarioEngine();
    const op = new FakeOperator(engine);
    const s = new FakeStream();
    const errors: Partial<grpc.StatusObject>[] = [];
    s.on('error', (e: Partial<grpc.StatusObject>) => errors.push(e));
    watchIdentities(op, engine, s as unknown as WatchCall, { maxBacklog: 5 });
    const initial = engine.compiled.identities.size;
    assert.equal(s.written.length, initial + 1);
    assert.equal(op.listeners.size, 1);

    s.writableLength = initial + 5; // at the limit: still fine
    for (const l of op.listeners) l([{ id: 9000, labels: ['k8s:a=b'] }], [], 2);
    assert.equal(errors.length, 0);
    s.writableLength = initial + 6;
    for (const l of [...op.listeners]) l([], [9000], 3);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(op.listeners.size, 0, 'unsubscribed');
    const last = s.written.at(-1)!;
    assert.equal(last.type, 'TYPE_REMOVED');
    assert.deepEqual(last.identity, { id: 9000, labels: ['k8s:a=b'] });
  });

  it('does not subscribe for a call cancelled while it was being authorized', () => {
    const engine = scenarioEngine();
    const op = new FakeOperator(engine);
    const s = new FakeStream();
    s.cancelled = true;
    watchIdentities(op, engine, s as unknown as WatchCall);
    assert.equal(op.listeners.size, 0);
    assert.equal(s.written.length, 0);
  });

  it('ends UNAVAILABLE when a change arrives after the engine lost the lead', () => {
    const engine = scenarioEngine();
    const op = new FakeOperator(engine);
    const s = new FakeStream();
    const errors: Partial<grpc.StatusObject>[] = [];
    s.on('error', (e: Partial<grpc.StatusObject>) => errors.push(e));
    watchIdentities(op, engine, s as unknown as WatchCall);
    const sent = s.written.length;
    op.engineOf = scenarioEngine();
    op.leaderName = 'palisade-operator-1';
    for (const l of [...op.listeners]) l([{ id: 9001, labels: [] }], [], 9);
    assert.equal(s.written.length, sent, 'nothing from the new term on the old stream');
    assert.equal(errors[0]?.code, grpc.status.UNAVAILABLE);
    assert.match(errors[0]?.details ?? '', /leader is palisade-operator-1/);
    assert.equal(op.listeners.size, 0);
  });
});
