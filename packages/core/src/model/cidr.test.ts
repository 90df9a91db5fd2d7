import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatAddress,
  formatPrefix,
  parseAddress,
  parsePrefix,
  prefixContains,
  prefixContainsAddress,
} from './cidr.js';

describe('cidr', () => {
  it('parses IPv4 and clears host bits like Go net.ParseCIDR', () => {
    assert.equal(formatPrefix(parsePrefix('10.244.1.1/4')!), '0.0.0.0/4');
    assert.equal(formatPrefix(parsePrefix('10.0.1.7/24')!), '10.0.1.0/24');
    assert.equal(formatPrefix(parsePrefix('0.0.0.0/0')!), '0.0.0.0/0');
  });
  it('parses IPv6, compressed and with an embedded IPv4 tail', () => {
    assert.equal(formatPrefix(parsePrefix('fd00::1/64')!), 'fd00::/64');
    assert.equal(formatAddress(parseAddress('::ffff:10.0.0.1')!), '::ffff:a00:1');
    assert.equal(formatAddress(parseAddress('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(formatAddress(parseAddress('::')!), '::');
  });
  it('refuses what is not an address or prefix', () => {
    for (const s of [
      '10.0.0.0',
      '10.0.0.256/8',
      '10.0.0/8',
      '10.0.0.0/33',
      'fd00::/129',
      '1:2:3:4:5:6:7:8:9/64',
      'x/8',
      '010.0.0.0/8',
      '10.0.0.0/08',
      ':::/1',
    ])
      assert.equal(parsePrefix(s), undefined, s);
  });
  it('tests containment of prefixes and addresses, per family', () => {
    const p = parsePrefix('10.0.0.0/8')!;
    assert.ok(prefixContains(p, parsePrefix('10.1.0.0/16')!));
    assert.ok(!prefixContains(parsePrefix('10.1.0.0/16')!, p));
    assert.ok(prefixContainsAddress(p, parseAddress('10.255.0.1')!));
    assert.ok(!prefixContainsAddress(p, parseAddress('11.0.0.1')!));
    assert.ok(!prefixContainsAddress(parsePrefix('::/0')!, parseAddress('10.0.0.1')!));
  });
});
