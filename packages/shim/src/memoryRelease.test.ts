import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryReleaser, type ReleaseTimers } from './memoryRelease.js';

/** Timers driven by hand: `advance(ms)` runs what falls due. */
function fakeTimers(): ReleaseTimers & { advance(ms: number): void } {
  let now = 0;
  let seq = 0;
  const due = new Map<number, { at: number; f: () => void }>();
  return {
    set: (f, ms) => {
      due.set(++seq, { at: now + ms, f });
      return seq;
    },
    clear: (h) => void due.delete(h as number),
    now: () => now,
    advance(ms) {
      now += ms;
      for (const [h, t] of [...due].sort((a, b) => a[1].at - b[1].at))
        if (t.at <= now) {
          due.delete(h);
          t.f();
        }
    },
  };
}

describe('memory releaser', () => {
  it('collects, then trims, once after a burst of changes and at most once per interval', () => {
    const timers = fakeTimers();
    const calls: string[] = [];
    const r = new MemoryReleaser({
      gc: () => calls.push('gc'),
      trim: () => calls.push('trim'),
      delayMs: 1000,
      minIntervalMs: 10000,
      timers,
    });
    r.changed();
    timers.advance(500);
    r.changed();
    timers.advance(499);
    assert.deepEqual(calls, []);
    timers.advance(1);
    assert.deepEqual(calls, ['gc', 'trim']);
    r.changed(); // at t=1000: the next release waits for the interval
    timers.advance(9999);
    assert.equal(r.count, 1);
    timers.advance(1);
    assert.equal(r.count, 2);
    r.changed();
    r.close();
    timers.advance(60000);
    assert.equal(r.count, 2, 'close cancels the pending release');
  });

  it('does nothing without a collector or a trimmer', () => {
    const timers = fakeTimers();
    const r = new MemoryReleaser({ timers });
    r.changed();
    timers.advance(60000);
    assert.equal(r.count, 0);
  });
});
