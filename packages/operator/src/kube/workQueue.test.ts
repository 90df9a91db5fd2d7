import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue, type Timers } from './workQueue.js';

/** Timers that fire only when the test advances them. */
function fakeTimers(): Timers & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at))
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
    },
    pending: () => timers.size,
  };
}
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('de-duplicates keys and processes each key one at a time', async () => {
    const q = new WorkQueue({ name: 't' });
    const seen: string[] = [];
    let active = 0;
    let maxActive = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run = q.run(async (k) => {
      active++;
      maxActive = Math.max(maxActive, active);
      seen.push(k);
      if (k === 'a' && seen.length === 1) await gate;
      active--;
    }, 4);
    q.add('a');
    q.add('a');
    q.add('b');
    await flush();
    q.add('a'); // while 'a' is being processed: queued again once, after it finishes
    q.add('a');
    await flush();
    assert.deepEqual(seen, ['a', 'b']);
    release();
    await flush();
    await flush();
    assert.deepEqual(seen, ['a', 'b', 'a']);
    assert.equal(maxActive, 2, 'a and b ran concurrently, never a twice');
    q.shutDown();
    await run;
  });

  it('retries a failing key with growing delays and resets after success', async () => {
    const timers = fakeTimers();
    const q = new WorkQueue({ name: 't', timers, baseDelayMs: 10, maxDelayMs: 40 });
    let fails = 3;
    const attempts: number[] = [];
    const retries: number[] = [];
    const q2 = new WorkQueue({
      name: 't2',
      timers,
      baseDelayMs: 10,
      maxDelayMs: 40,
      hooks: { retried: (_k, d) => retries.push(d) },
    });
    void q;
    const run = q2.run(async () => {
      attempts.push(attempts.length);
      if (fails-- > 0) throw new Error('boom');
      await Promise.resolve();
    });
    q2.add('k');
    await flush();
    assert.equal(attempts.length, 1);
    timers.advance(9);
    await flush();
    assert.equal(attempts.length, 1, 'not before the delay');
    timers.advance(1);
    await flush();
    assert.equal(attempts.length, 2);
    timers.advance(20);
    await flush();
    timers.advance(40);
    await flush();
    assert.equal(attempts.length, 4);
    assert.deepEqual(retries, [10, 20, 40]);
    assert.equal(q2.retries('k'), 0, 'success forgets the failures');
    q2.shutDown();
    await run;
  });

  it('shutDown stops workers and cancels delayed keys', async () => {
    const timers = fakeTimers();
    const q = new WorkQueue({ name: 't', timers });
    const run = q.run(() => Promise.resolve(), 2);
    q.addAfter('later', 1000);
    assert.equal(timers.pending(), 1);
    q.shutDown();
    assert.equal(timers.pending(), 0);
    await run;
    q.add('ignored');
    assert.equal(q.length, 0);
  });
});
