import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, sleep } from './backoff.js';

describe('Backoff', () => {
  it('doubles up to the cap, jittered between half and all of it, and resets', () => {
    const lo = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => lo.next()),
      [50, 100, 200, 400, 500, 500],
    );
    const hi = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => hi.next()),
      [100, 200, 400, 800, 1000],
    );
    hi.reset();
    assert.equal(hi.attempts, 0);
    assert.equal(hi.next(), 100);
  });

  it('sleep resolves early when aborted', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    await p;
    assert.ok(Date.now() - t0 < 1000);
  });
});
