import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalState, emptyState } from '@palisade/core';
import {
  deltaFrame,
  encodeChange,
  snapshotChunkFrame,
  syncedFrame,
  type StateChange,
} from '@palisade/api';
import { silentLogger } from '../log.js';
import { Backoff } from '@palisade/core';
import { FakeClock } from './fakeClock.js';
import { PolicyStream } from './policyStream.js';
import { Recorder, allowDelta, piece, podDelta, snapshotFrames, stateOf } from './testFrames.js';

const A = podDelta(100, 'a', '10.0.0.1');
const B = podDelta(101, 'b', '10.0.0.2');
const AB = allowDelta(100, 101, 80);
const AB443 = allowDelta(100, 101, 443);

function setup(): { s: PolicyStream; r: Recorder; clock: FakeClock } {
  const r = new Recorder();
  const clock = new FakeClock();
  const s = new PolicyStream({
    node: 'node-a',
    apply: r.apply,
    log: silentLogger,
    clock,
    retryBackoff: new Backoff({ initialMs: 1000, random: () => 0.5 }),
  });
  s.open(r.send);
  return { s, r, clock };
}

/** A stream that applied snapshot e1/10 (A and B) and acked it. */
function synced(): { s: PolicyStream; r: Recorder; clock: FakeClock } {
  const t = setup();
  for (const f of snapshotFrames('e1', 10, [A, B])) t.s.receive(f);
  t.r.take();
  t.r.applied.length = 0;
  return t;
}

const canon = (...d: Parameters<typeof stateOf>): string => canonicalState(stateOf(...d));

describe('policy stream', () => {
  it('says hello with no state, applies a chunked snapshot once, then deltas, acking each', () => {
    const { s, r } = setup();
    assert.deepEqual(r.take(), ['hello:/0']);
    assert.deepEqual(r.sent, []);
    const [c0, c1, done] = snapshotFrames('e1', 10, [A, B]) as [Buffer, Buffer, Buffer];
    s.receive(c0);
    s.receive(c1);
    assert.equal(r.applied.length, 0, 'nothing is applied before Synced');
    s.receive(done);
    assert.deepEqual(r.applied, [canon(A, B)]);
    assert.deepEqual(r.take(), ['ack:10']);
    s.receive(deltaFrame('e1', 12, 10, [piece(AB)]));
    s.receive(deltaFrame('e1', 15, 12, [piece(AB443)]));
    assert.deepEqual(r.applied.slice(1), [canon(A, B, AB), canon(A, B, AB, AB443)]);
    assert.deepEqual(r.take(), ['ack:12', 'ack:15']);
    const st = s.status();
    assert.equal(st.epoch, 'e1');
    assert.equal(st.revision, 15);
    assert.equal(st.synced, true);
    assert.equal(st.acks, 3);
    assert.equal(st.resyncs, 0);
  });

  it('acks with the apply time and sends the held epoch and revision after a reconnect', () => {
    const { s, r, clock } = synced();
    s.receive(deltaFrame('e1', 11, 10, [piece(AB)]));
    assert.equal(r.sent[0]?.ack?.appliedAtUnixMs, clock.now());
    s.close();
    r.take();
    s.open(r.send);
    assert.deepEqual(r.take(), ['hello:e1/11']);
    assert.deepEqual(r.sent, []);
    // The operator continues with deltas.
    s.receive(deltaFrame('e1', 12, 11, [piece(AB443)]));
    assert.deepEqual(r.take(), ['ack:12']);
  });

  it('resyncs on a gap, keeps the kernel, ignores deltas until a new snapshot converges', () => {
    const { s, r } = synced();
    s.receive(deltaFrame('e1', 13, 12, [piece(AB)]));
    assert.deepEqual(r.take(), ['resync']);
    assert.equal(r.applied.length, 0, 'the kernel is not touched');
    assert.match(s.status().lastResync?.reason ?? '', /gap/);
    assert.equal(s.status().synced, false);
    assert.equal(s.status().revision, 10, 'the held revision stays (the kernel is still at it)');
    s.receive(deltaFrame('e1', 14, 13, [piece(AB443)]));
    assert.deepEqual(r.take(), [], 'deltas are ignored while waiting');
    assert.equal(s.status().ignoredFrames, 1);
    for (const f of snapshotFrames('e1', 14, [A, B, AB])) s.receive(f);
    assert.deepEqual(r.applied, [canon(A, B, AB)]);
    assert.deepEqual(r.take(), ['ack:14']);
    s.receive(deltaFrame('e1', 15, 14, [piece(AB443)]));
    assert.deepEqual(r.take(), ['ack:15']);
  });

  it('resyncs on a delta of another epoch', () => {
    const { s, r } = synced();
    s.receive(deltaFrame('e2', 11, 10, [piece(AB)]));
    assert.deepEqual(r.take(), ['resync']);
    assert.equal(r.applied.length, 0);
    assert.match(s.status().lastResync?.reason ?? '', /epoch/);
  });

  it('resyncs on a delta that does not move forward', () => {
    const { s, r } = synced();
    s.receive(deltaFrame('e1', 10, 10, [piece(AB)]));
    assert.deepEqual(r.take(), ['resync']);
    assert.equal(r.applied.length, 0);
  });

  it('does not ack a failed apply, drops the held revision, and asks again after a backoff', () => {
    const { s, r, clock } = synced();
    r.failNext = 1;
    s.receive(deltaFrame('e1', 11, 10, [piece(AB)]));
    assert.deepEqual(r.take(), [], 'no ack, no immediate resync');
    const st = s.status();
    assert.equal(st.applyFailures, 1);
    assert.match(st.lastApplyError ?? '', /map full/);
    assert.equal(st.synced, false);
    assert.equal(st.revision, 0, 'no revision describes the kernel now');
    s.receive(deltaFrame('e1', 12, 11, [piece(AB443)]));
    assert.equal(r.applied.length, 0, 'deltas are ignored');
    clock.advance(499);
    assert.deepEqual(r.take(), []);
    clock.advance(1);
    assert.deepEqual(r.take(), ['resync'], 'after the backoff (1000 ms × 0.5)');
    for (const f of snapshotFrames('e1', 12, [A, B, AB, AB443])) s.receive(f);
    assert.deepEqual(r.applied, [canon(A, B, AB, AB443)]);
    assert.deepEqual(r.take(), ['ack:12']);
  });

  it('backs off further when the snapshot fails again, and a reconnect asks with no revision', () => {
    const { s, r, clock } = synced();
    r.failNext = 2;
    s.receive(deltaFrame('e1', 11, 10, [piece(AB)]));
    clock.advance(500);
    assert.deepEqual(r.take(), ['resync']);
    for (const f of snapshotFrames('e1', 11, [A, B, AB])) s.receive(f);
    assert.deepEqual(r.take(), []);
    clock.advance(999);
    assert.deepEqual(r.take(), [], 'the second delay is longer (2000 ms × 0.5)');
    s.close();
    clock.advance(10_000);
    assert.deepEqual(r.take(), [], 'nothing is sent while closed');
    s.open(r.send);
    assert.deepEqual(r.take(), ['hello:/0']);
    for (const f of snapshotFrames('e1', 11, [A, B, AB])) s.receive(f);
    assert.deepEqual(r.take(), ['ack:11']);
    assert.equal(clock.pending, 0, 'no retry left behind');
  });

  it('resyncs on chunks out of order, skips the rest of that snapshot, takes the next', () => {
    const { s, r } = setup();
    r.take();
    s.receive(snapshotChunkFrame('e1', 10, 0, [piece(A)]));
    s.receive(snapshotChunkFrame('e1', 10, 2, [piece(B)]));
    assert.deepEqual(r.take(), ['resync']);
    assert.match(s.status().lastResync?.reason ?? '', /out of order/);
    s.receive(snapshotChunkFrame('e1', 10, 3, [piece(AB)]));
    s.receive(syncedFrame('e1', 10, 4));
    assert.deepEqual(r.take(), [], 'the abandoned snapshot is skipped quietly');
    assert.equal(r.applied.length, 0);
    for (const f of snapshotFrames('e1', 11, [A, B])) s.receive(f);
    assert.deepEqual(r.take(), ['ack:11']);
    assert.deepEqual(r.applied, [canon(A, B)]);
  });

  it('resyncs when Synced does not match its chunks', () => {
    const { s, r } = setup();
    r.take();
    s.receive(snapshotChunkFrame('e1', 10, 0, [piece(A)]));
    s.receive(syncedFrame('e1', 10, 2));
    assert.deepEqual(r.take(), ['resync']);
    s.receive(snapshotChunkFrame('e1', 10, 0, [piece(A)]));
    s.receive(syncedFrame('e1', 11, 1));
    assert.deepEqual(r.take(), ['resync']);
    s.receive(snapshotChunkFrame('e1', 10, 0, [piece(A)]));
    s.receive(snapshotChunkFrame('e2', 10, 1, [piece(B)]));
    assert.deepEqual(r.take(), ['resync']);
    assert.equal(r.applied.length, 0);
  });

  it('takes a snapshot of no chunks as the empty state', () => {
    const { s, r } = synced();
    s.receive(syncedFrame('e2', 3, 0));
    assert.deepEqual(r.applied, [canonicalState(emptyState())]);
    assert.deepEqual(r.take(), ['ack:3']);
    assert.equal(s.status().epoch, 'e2');
  });

  it('takes a snapshot it did not ask for (the operator resynced a slow node)', () => {
    const { s, r } = synced();
    for (const f of snapshotFrames('e1', 20, [A])) s.receive(f);
    assert.deepEqual(r.applied, [canon(A)]);
    assert.deepEqual(r.take(), ['ack:20']);
  });

  it('refuses a delta with an invalid field, naming it, and applies nothing', () => {
    const { s, r } = synced();
    const bad: StateChange = {
      policy: [
        {
          key: { subject: 100, direction: 1, remote: 101, protocol: 6, port: 70000, prefixLen: 16 },
          verdict: 1,
        },
      ],
    };
    s.receive(deltaFrame('e1', 11, 10, [encodeChange(bad)]));
    assert.deepEqual(r.take(), ['resync']);
    assert.equal(r.applied.length, 0);
    assert.match(s.status().lastResync?.reason ?? '', /policy\[0\]\.key\.port/);
    // The held state was not touched: a snapshot equal to it diffs to nothing.
    s.close();
    s.open(r.send);
    assert.deepEqual(r.take(), ['hello:e1/10']);
  });

  it('refuses undecodable bytes and frames without a body', () => {
    const { s, r } = synced();
    s.receive(Buffer.from([0xff, 0xff, 0xff]));
    s.receive(Buffer.alloc(0));
    assert.deepEqual(r.take(), ['resync', 'resync']);
    assert.equal(s.status().badFrames, 2);
  });

  it('applies frames still buffered after close but sends nothing', () => {
    const { s, r } = synced();
    s.close();
    s.receive(deltaFrame('e1', 11, 10, [piece(AB)]));
    assert.deepEqual(r.applied, [canon(A, B, AB)]);
    assert.deepEqual(r.take(), []);
    s.open(r.send);
    assert.deepEqual(r.take(), ['hello:e1/11']);
  });

  it('survives a send that throws', () => {
    const r = new Recorder();
    const s = new PolicyStream({ node: 'n', apply: r.apply, log: silentLogger });
    s.open(() => {
      throw new Error('write after end');
    });
    for (const f of snapshotFrames('e1', 1, [A])) s.receive(f);
    assert.equal(r.applied.length, 1);
    assert.equal(s.status().acks, 0);
  });
});
