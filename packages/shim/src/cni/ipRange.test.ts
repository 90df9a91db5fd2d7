import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress, parseAddress, parsePrefix } from '@palisade/core';
import type { Prefix } from '@palisade/core';
import { candidateOrder, isUsable, usableCount, usableRange } from './ipRange.js';

const p = (s: string): Prefix => parsePrefix(s)!;
const a = (s: string): bigint => parseAddress(s)!.addr;
const list = (subnet: Prefix, last?: string): string[] =>
  [...candidateOrder(subnet, last === undefined ? undefined : a(last))].map((addr) =>
    formatAddress({ family: subnet.family, addr }),
  );

describe('usableRange', () => {
  it('skips the network address, .1 and the IPv4 broadcast', () => {
    const r = usableRange(p('10.1.0.0/24'));
    assert.equal(r.first, a('10.1.0.2'));
    assert.equal(r.last, a('10.1.0.254'));
    assert.equal(usableCount(p('10.1.0.0/24')), 253n);
    assert.equal(usableCount(p('10.1.0.0/30')), 1n);
  });
  it('skips the network address and ::1 for IPv6, but keeps the last address', () => {
    const r = usableRange(p('fd00:1::/120'));
    assert.equal(r.first, a('fd00:1::2'));
    assert.equal(r.last, a('fd00:1::ff'));
    assert.equal(usableCount(p('fd00:1::/126')), 2n);
  });
  it('is empty for a /31 or /127', () => {
    assert.equal(usableCount(p('10.1.0.0/31')), 0n);
    assert.equal(usableCount(p('fd00::/127')), 0n);
    assert.deepEqual(list(p('10.1.0.0/32')), []);
  });
  it('tells usable addresses apart', () => {
    const s = p('10.1.0.0/24');
    assert.ok(!isUsable(s, a('10.1.0.0')));
    assert.ok(!isUsable(s, a('10.1.0.1')));
    assert.ok(isUsable(s, a('10.1.0.2')));
    assert.ok(isUsable(s, a('10.1.0.254')));
    assert.ok(!isUsable(s, a('10.1.0.255')));
    assert.ok(!isUsable(s, a('10.1.1.2')));
  });
});

describe('candidateOrder', () => {
  it('starts at the first usable address without a hint', () => {
    assert.deepEqual(list(p('10.1.0.0/29')), [
      '10.1.0.2',
      '10.1.0.3',
      '10.1.0.4',
      '10.1.0.5',
      '10.1.0.6',
    ]);
  });
  it('continues after the last reserved address and wraps around once', () => {
    assert.deepEqual(list(p('10.1.0.0/29'), '10.1.0.4'), [
      '10.1.0.5',
      '10.1.0.6',
      '10.1.0.2',
      '10.1.0.3',
      '10.1.0.4',
    ]);
    assert.deepEqual(list(p('10.1.0.0/29'), '10.1.0.6'), [
      '10.1.0.2',
      '10.1.0.3',
      '10.1.0.4',
      '10.1.0.5',
      '10.1.0.6',
    ]);
  });
  it('ignores a hint that is not usable in the subnet', () => {
    assert.deepEqual(list(p('10.1.0.0/29'), '10.1.0.7')[0], '10.1.0.2');
    assert.deepEqual(list(p('10.1.0.0/29'), '192.168.0.3')[0], '10.1.0.2');
  });
  it('is lazy for huge IPv6 subnets', () => {
    const it = candidateOrder(p('fd00::/64'), a('fd00::ffff:ffff:ffff:fffe'));
    const first = [it.next().value, it.next().value];
    assert.deepEqual(first, [a('fd00::ffff:ffff:ffff:ffff'), a('fd00::2')]);
  });
});
