import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from './backoff.js';

describe('backoff', () => {
  it('doubles its cap from 200 ms to 30 s, draws below the cap, and resets', () => {
    const b = new Backoff({ random: () => 0.999999 });
    const delays = Array.from({ length: 10 }, () => b.next());
    assert.deepEqual(delays, [199, 399, 799, 1599, 3199, 6399, 12799, 25599, 29999, 29999]);
    assert.equal(b.attempts, 10);
    b.reset();
    assert.equal(b.cap, 200);
    assert.equal(b.next(), 199);
  });

  it('with equal jitter, draws between half and all of the cap', () => {
    const lo = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 'equal', random: () => 0 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => lo.next()),
      [50, 100, 200, 400, 500, 500],
    );
    const hi = new Backoff({
      initialMs: 100,
      maxMs: 1000,
      jitter: 'equal',
      random: () => 0.999999,
    });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => hi.next()),
      [100, 200, 400, 800, 1000],
    );
    hi.reset();
    assert.equal(hi.attempts, 0);
    assert.equal(hi.next(), 100);
  });

  it('uses full jitter', () => {
    const b = new Backoff({ initialMs: 1000, random: () => 0 });
    assert.equal(b.next(), 0);
    const r = new Backoff({ initialMs: 1000 });
    for (let i = 0; i < 100; i++) {
      const cap = r.cap;
      const d = r.next();
      assert.ok(d >= 0 && d < cap);
    }
  });
});
