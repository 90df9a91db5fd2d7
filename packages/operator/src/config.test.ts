import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig, parseDuration } from './config.js';

describe('operator config', () => {
  it('defaults', () => {
    const c = parseConfig([], {}, 'h');
    assert.equal(c.identityStore, 'crd');
    assert.equal(c.identityGraceMs, 15 * 60_000);
    assert.equal(c.namespace, 'palisade-system');
    assert.equal(c.metricsPort, 9877);
    assert.equal(c.highCardinalityThreshold, 256);
    assert.match(c.identity, /^h-\d+$/);
  });

  it('durations', () => {
    assert.equal(parseDuration('x', '500ms'), 500);
    assert.equal(parseDuration('x', '1.5s'), 1500);
    assert.equal(parseDuration('x', '15m'), 900_000);
    assert.throws(
      () => parseDuration('identity-grace', '15 minutes'),
      /--identity-grace: "15 minutes" is not a duration/,
    );
  });

  it('refuses bad input with the flag named', () => {
    assert.throws(
      () => parseConfig(['--identity-store', 'etcd'], {}, 'h'),
      /--identity-store: "etcd" is not crd or redis/,
    );
    assert.throws(() => parseConfig(['--identity-store', 'redis'], {}, 'h'), /needs --redis-url/);
    assert.throws(() => parseConfig(['--redis-url', 'http://x'], {}, 'h'), /--redis-url/);
    assert.throws(
      () => parseConfig(['--workers', '0'], {}, 'h'),
      /--workers: "0" is not a positive integer/,
    );
    assert.throws(() => parseConfig(['--metrics-addr', 'nope'], {}, 'h'), /--metrics-addr/);
    assert.throws(
      () => parseConfig(['--renew-deadline', '20s'], {}, 'h'),
      /retry-period < renew-deadline < lease-duration/,
    );
    assert.throws(() => parseConfig(['--bogus'], {}, 'h'), /Unknown option '--bogus'/);
  });

  it('redis from flags or environment; label filter flags', () => {
    const c = parseConfig(
      ['--identity-store', 'redis', '--exclude-label', 'uid', '--exclude-label', 'job*'],
      { PALISADE_REDIS_URL: 'redis://127.0.0.1:6379', POD_NAMESPACE: 'sec', POD_NAME: 'op-0' },
      'h',
    );
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual(c.excludeLabels, ['uid', 'job*']);
    assert.equal(c.namespace, 'sec');
    assert.equal(c.identity, 'op-0');
  });
});
