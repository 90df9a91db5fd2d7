/**
 * Fuzzing the policy stream with malformed frames: nothing escapes `receive`, every bad
 * frame sends a Resync, nothing of a bad frame reaches the kernel, and a good snapshot
 * afterwards still converges.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalState, parsePrefix, policyEntries } from '@palisade/core';
import type { CompiledState } from '@palisade/core';
import {
  deltaFrame,
  encodeChange,
  encodeNodeMessage,
  snapshotChunkFrame,
  syncedFrame,
  type StateChange,
} from '@palisade/api';
import { silentLogger } from '../log.js';
import { Backoff } from '@palisade/core';
import { FakeClock } from './fakeClock.js';
import { PolicyStream } from './policyStream.js';
import { allowDelta, piece, podDelta, snapshotFrames, stateOf } from './testFrames.js';

const A = podDelta(100, 'a', '10.0.0.1');
const B = podDelta(101, 'b', '10.0.0.2');
const AB = allowDelta(100, 101, 80);
const GOOD = canonicalState(stateOf(A, B, AB));

/** Checks every field the kernel maps take (what `fromWireChange` guarantees). */
function assertValid(s: CompiledState): void {
  for (const [id, i] of s.identities) assert.ok(id > 0 && id === i.id);
  for (const [p, id] of s.ipcache) assert.ok(parsePrefix(p) && id > 0, `ipcache ${p} ${id}`);
  for (const e of s.endpoints.values()) assert.ok(e.pod.includes('/') && e.identity > 0);
  for (const id of s.isolation.keys()) assert.ok(id > 0);
  for (const e of policyEntries(s)) {
    const k = e.key;
    assert.ok(k.subject > 0 && (k.direction === 'ingress' || k.direction === 'egress'));
    assert.ok(k.protocol <= 255 && k.port <= 65535 && k.prefixLen <= 16);
    assert.ok(['allow', 'deny', 'redirect'].includes(e.value.verdict));
  }
}

interface Harness {
  readonly s: PolicyStream;
  readonly applied: CompiledState[];
  readonly sent: string[];
}

/** A stream holding e1/10 (A, B), acked; the records cleared. */
function syncedHarness(): Harness {
  const applied: CompiledState[] = [];
  const sent: string[] = [];
  const s = new PolicyStream({
    node: 'node-a',
    apply: (st) => {
      assertValid(st);
      applied.push(st);
    },
    log: silentLogger,
    clock: new FakeClock(),
    retryBackoff: new Backoff({ random: () => 0 }),
  });
  s.open((m) => sent.push(m.body ?? (m.ack ? 'ack' : m.resync ? 'resync' : 'hello')));
  for (const f of snapshotFrames('e1', 10, [A, B])) s.receive(f);
  applied.length = 0;
  sent.length = 0;
  return { s, applied, sent };
}

/** Feeds a good snapshot e1/R (A, B, AB) and checks the stream converged on it. */
function assertConverges(h: Harness, revision: number): void {
  h.applied.length = 0;
  h.sent.length = 0;
  for (const f of snapshotFrames('e1', revision, [A, B, AB])) h.s.receive(f);
  assert.equal(h.applied.length, 1);
  assert.equal(canonicalState(h.applied[0] as CompiledState), GOOD);
  assert.deepEqual(h.sent, ['ack']);
  assert.equal(h.s.status().revision, revision);
  assert.equal(h.s.status().synced, true);
}

const u32 = fc.nat({ max: 0xffffffff });
const goodKey = { subject: 100, direction: 1, remote: 101, protocol: 6, port: 80, prefixLen: 16 };

/** Wire values out of their types' range are the point here: encode them as they are. */
function raw(o: object): StateChange {
  return o;
}

/** Wire changes with exactly one field a shim must refuse. */
const badChange: fc.Arbitrary<StateChange> = fc
  .oneof(
    fc
      .string()
      .filter((p) => !parsePrefix(p))
      .map((prefix) => ({ ipcache: [{ prefix, identity: 100 }] })),
    fc
      .constantFrom('10.0.0.1/33', '300.0.0.1/32', '10.0.0.1', '::1/129', 'fe80::/64x', '')
      .map((p) => ({ removedPrefixes: [p] })),
    fc.constant({ ipcache: [{ prefix: '10.0.0.9/32', identity: 0 }] }),
    fc.constant({ identities: [{ id: 0, labels: ['k8s:app=z'] }] }),
    fc.constant({ removedIdentities: [0] }),
    fc.constant({ isolation: [{ identity: 0, ingress: true, egress: true }] }),
    fc
      .string()
      .filter((p) => !p.includes('/'))
      .map((pod) => ({ endpoints: [{ pod, identity: 100 }] })),
    fc.constant({ endpoints: [{ pod: 'x/z', identity: 0, ips: ['10.0.0.9'] }] }),
    fc
      .integer({ min: 3, max: 1000 })
      .chain((d) => fc.constantFrom(0, d))
      .map((direction) => ({ policy: [{ key: { ...goodKey, direction }, verdict: 1 }] })),
    fc
      .integer({ min: 65536, max: 0xffffffff })
      .map((port) => ({ policy: [{ key: { ...goodKey, port }, verdict: 1 }] })),
    fc
      .integer({ min: 256, max: 0xffffffff })
      .map((protocol) => ({ policy: [{ key: { ...goodKey, protocol }, verdict: 2 }] })),
    fc
      .integer({ min: 17, max: 0xffffffff })
      .map((prefixLen) => ({ policy: [{ key: { ...goodKey, prefixLen }, verdict: 1 }] })),
    fc.constant({ policy: [{ key: { ...goodKey, subject: 0 }, verdict: 1 }] }),
    fc.constant({ policy: [{ key: { ...goodKey, protocol: 0 }, verdict: 1 }] }),
    fc.constantFrom(0, 4, 99).map((verdict) => ({ policy: [{ key: goodKey, verdict }] })),
    fc.constant({ policy: [{ verdict: 1 }] }),
    fc.constant({ removedPolicy: [{ ...goodKey, direction: 0 }] }),
  )
  .map(raw);

/** A change mixing good pieces with one bad one (the whole change must be refused). */
const badPieces: fc.Arbitrary<Uint8Array[]> = fc
  .tuple(badChange, fc.nat({ max: 2 }))
  .map(([bad, at]) => {
    const pieces = [piece(AB), piece(podDelta(102, 'c', '10.0.0.3'))];
    pieces.splice(at, 0, encodeChange(bad));
    return pieces;
  });

/** Valid frames (in some state), to be truncated. */
const validFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(deltaFrame('e1', 11, 10, [piece(AB)])),
  fc.constant(snapshotChunkFrame('e1', 11, 0, [piece(A), piece(B)])),
  fc.constant(syncedFrame('e1', 11, 1)),
);

/** Frames a stream holding e1/10 (and assembling nothing) must refuse with a Resync. */
const badFrame: fc.Arbitrary<{ kind: string; frame: Uint8Array }> = fc.oneof(
  validFrame.chain((f) =>
    fc.nat({ max: f.length - 1 }).map((n) => ({ kind: 'truncated', frame: f.subarray(0, n) })),
  ),
  badPieces.map((p) => ({ kind: 'bad delta', frame: deltaFrame('e1', 11, 10, p) })),
  badPieces.map((p) => ({ kind: 'bad chunk 0', frame: snapshotChunkFrame('e1', 11, 0, p) })),
  fc.integer({ min: 1, max: 1000 }).map((index) => ({
    kind: 'chunk without chunk 0',
    frame: snapshotChunkFrame('e1', 11, index, [piece(A)]),
  })),
  fc.integer({ min: 1, max: 1000 }).map((chunks) => ({
    kind: 'synced without chunks',
    frame: syncedFrame('e1', 11, chunks),
  })),
  fc.nat({ max: 1000 }).map((p) => ({
    kind: 'gap',
    frame: deltaFrame('e1', 2000, p === 10 ? 11 : p, [piece(AB)]),
  })),
  fc.string({ minLength: 1 }).map((e) => ({
    kind: 'other epoch',
    frame: deltaFrame(e === 'e1' ? 'e2' : e, 11, 10, [piece(AB)]),
  })),
  fc.constant({ kind: 'empty epoch', frame: deltaFrame('', 11, 10, [piece(AB)]) }),
  fc.constantFrom('e 1', 'e\n', 'x'.repeat(129), 'é').map((e) => ({
    kind: 'unprintable epoch',
    frame: syncedFrame(e, 11, 0),
  })),
  fc.constant({ kind: 'empty epoch chunk', frame: snapshotChunkFrame('', 11, 0, [piece(A)]) }),
  fc.integer({ min: 0, max: 10 }).map((r) => ({
    kind: 'not forward',
    frame: deltaFrame('e1', r, 10, [piece(AB)]),
  })),
  fc.constant({ kind: 'revision past 2^53', frame: deltaFrame('e1', 2 ** 60, 10, [piece(AB)]) }),
  fc.constant({ kind: 'no body', frame: new Uint8Array(0) }),
  // An unknown field only (no body of the oneof), and a shim's message sent back.
  fc.uint8Array({ maxLength: 20 }).map((b) => ({
    kind: 'unknown field',
    frame: Buffer.concat([Buffer.from([0x3a, b.length]), b]),
  })),
  // A stray Ack decodes as a Synced of no chunks (epoch "\x10\x01"): an empty snapshot!
  fc.constant({
    kind: 'a NodeMessage',
    frame: encodeNodeMessage({ ack: { revision: 10, appliedAtUnixMs: 1 } }),
  }),
);

/** Anything at all: random bytes, bad frames, good frames of other states. */
const anyFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  badFrame.map((b) => b.frame),
  validFrame,
  fc.tuple(u32, fc.nat({ max: 3 })).map(([r, i]) => snapshotChunkFrame('e1', r, i, [piece(A)])),
  fc.tuple(u32, fc.nat({ max: 3 })).map(([r, n]) => syncedFrame('e1', r, n)),
  fc.tuple(u32, u32).map(([r, p]) => deltaFrame('e1', r, p, [piece(AB)])),
  fc.stringMatching(/^[0-9a-f]{0,8}$/).map((e) => deltaFrame(e, 11, 10, [piece(AB)])),
);

describe('policy stream under malformed frames', () => {
  it('refuses every bad frame with one Resync, applies nothing, and converges afterwards', () => {
    const kinds = new Map<string, number>();
    fc.assert(
      fc.property(badFrame, ({ kind, frame }) => {
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        const h = syncedHarness();
        h.s.receive(frame);
        assert.deepEqual(h.sent, ['resync'], kind);
        assert.equal(h.applied.length, 0, kind);
        assert.equal(h.s.status().badFrames, 1, kind);
        assertConverges(h, 12);
      }),
      { numRuns: 3000 },
    );
    assert.ok(kinds.size >= 14, `every kind was tried: ${[...kinds.keys()].join(', ')}`);
  });

  it('never throws on any sequence of frames, applies only valid states, and converges', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { maxLength: 30 }), (frames) => {
        const h = syncedHarness();
        for (const f of frames) h.s.receive(f);
        // Every resync and ack is well-formed, and an ack follows every apply.
        assert.equal(
          h.sent.filter((m) => m === 'ack').length,
          h.applied.length,
          'an ack per apply',
        );
        assertConverges(h, 2 ** 32 + 1);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps the held state intact when a delta is refused (a later snapshot diffs against it)', () => {
    fc.assert(
      fc.property(badPieces, (p) => {
        const h = syncedHarness();
        h.s.receive(deltaFrame('e1', 11, 10, p));
        // A reconnect asks to continue from e1/10, so the held state must still be A+B.
        h.s.close();
        const hello: string[] = [];
        h.s.open((m) => hello.push(`${m.hello?.epoch ?? ''}/${String(m.hello?.revision ?? '')}`));
        assert.deepEqual(hello, ['e1/10']);
        h.s.receive(deltaFrame('e1', 11, 10, [piece(AB)]));
        assert.equal(canonicalState(h.applied[0] as CompiledState), GOOD);
      }),
      { numRuns: 300 },
    );
  });
});
