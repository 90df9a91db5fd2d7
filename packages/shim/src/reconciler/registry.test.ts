import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndpointRegistry } from './registry.js';
import { FlowBuffer } from '../flows/flowBuffer.js';

const ep = (id: string, ifindex: number) => ({
  containerId: id,
  pod: `x/${id}`,
  netns: '/var/run/netns/p',
  ifName: 'eth0',
  hostIfName: `h${id}`,
  hostIfIndex: ifindex,
  ips: ['10.0.0.1'],
});

describe('endpoint registry', () => {
  it('survives a restart (persisted atomically) and finds endpoints by device', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reg-'));
    try {
      const path = join(dir, 'state', 'endpoints.json');
      const r = new EndpointRegistry(path);
      r.put(ep('b', 7));
      r.put(ep('a', 6));
      r.remove('b');
      const again = new EndpointRegistry(path);
      assert.deepEqual(again.list(), [ep('a', 6)]);
      assert.equal(again.byIfIndex(6)?.containerId, 'a');
      assert.equal(again.byIfIndex(7), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a corrupt registry file is an error naming it, not an empty node', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reg-'));
    try {
      const path = join(dir, 'endpoints.json');
      writeFileSync(path, '{not json');
      assert.throws(() => new EndpointRegistry(path), /endpoints\.json is not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('flow buffer', () => {
  it('keeps the newest records, oldest first', () => {
    const b = new FlowBuffer<number>(3);
    for (let i = 1; i <= 5; i++) b.push(i);
    assert.deepEqual(b.recent(), [3, 4, 5]);
    assert.deepEqual(b.recent(2), [4, 5]);
    assert.equal(b.total, 5);
  });
});
