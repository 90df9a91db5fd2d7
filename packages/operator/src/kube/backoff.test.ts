import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from './backoff.js';

describe('sleep', () => {
  it('sleep resolves early when aborted', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    await p;
    assert.ok(Date.now() - t0 < 1000);
  });
});
