import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CniError } from './errors.js';
import { findIpBinary, findLink, parseIpAddrJson, systemIpRunner } from './ip.js';

// Trimmed output of `ip -j addr show` (iproute2 6.1).
const SAMPLE = JSON.stringify([
  {
    ifindex: 1,
    ifname: 'lo',
    flags: ['LOOPBACK', 'UP'],
    mtu: 65536,
    address: '00:00:00:00:00:00',
    addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }],
  },
  {
    ifindex: 2,
    link_index: 5,
    ifname: 'eth0',
    flags: ['BROADCAST', 'MULTICAST', 'UP'],
    mtu: 1400,
    address: 'ce:0f:22:1c:98:15',
    addr_info: [
      { family: 'inet', local: '10.1.0.5', prefixlen: 24, noprefixroute: true },
      { family: 'inet6', local: 'fd00:1::5', prefixlen: 120, nodad: true },
      { family: 'inet6', local: 'fe80::cc0f:22ff:fe1c:9815', prefixlen: 64 },
    ],
  },
  { ifindex: 3, ifname: 'tunl0', flags: [], mtu: 1480, link_type: 'ipip' },
]);

describe('parseIpAddrJson', () => {
  it('reads links with their addresses', () => {
    const links = parseIpAddrJson(SAMPLE);
    assert.equal(links.length, 3);
    const eth0 = links[1]!;
    assert.equal(eth0.ifindex, 2);
    assert.equal(eth0.address, 'ce:0f:22:1c:98:15');
    assert.equal(eth0.mtu, 1400);
    assert.ok(eth0.flags.includes('UP'));
    assert.deepEqual(
      eth0.addresses.map((a) => `${a.local}/${a.prefixlen}`),
      ['10.1.0.5/24', 'fd00:1::5/120', 'fe80::cc0f:22ff:fe1c:9815/64'],
    );
    assert.equal(links[2]!.address, '');
    assert.deepEqual(links[2]!.addresses, []);
  });
  it('reads empty output as no links and refuses garbage with code 102', () => {
    assert.deepEqual(parseIpAddrJson(''), []);
    assert.throws(
      () => parseIpAddrJson('{'),
      (e: unknown) => e instanceof CniError && e.number === 102,
    );
    assert.throws(() => parseIpAddrJson('{}'), /did not print an array/);
  });
});

describe('findLink', () => {
  it('lists the links of the right netns and finds one by name', () => {
    const calls: string[][] = [];
    const ip = (args: readonly string[]): string => {
      calls.push([...args]);
      return SAMPLE;
    };
    assert.equal(findLink(ip, 'eth0', 'pod1')?.ifindex, 2);
    assert.equal(findLink(ip, 'nope'), undefined);
    assert.deepEqual(calls, [
      ['-n', 'pod1', '-j', 'addr', 'show'],
      ['-j', 'addr', 'show'],
    ]);
  });
});

describe('systemIpRunner', () => {
  it('prefers the usual absolute locations, falling back to PATH', () => {
    assert.equal(
      findIpBinary((p) => p === '/sbin/ip'),
      '/sbin/ip',
    );
    assert.equal(
      findIpBinary(() => false),
      'ip',
    );
  });
  it('turns a failing command into code 102 with its stderr', () => {
    const ip = systemIpRunner('/bin/sh');
    assert.throws(
      () => ip(['-c', 'echo "Cannot find device" >&2; exit 1']),
      (e: unknown) =>
        e instanceof CniError &&
        e.code === 'LinkSetupFailed' &&
        /Cannot find device/.test(e.message) &&
        e.details === 'Cannot find device',
    );
    assert.equal(ip(['-c', 'echo ok']), 'ok\n');
  });
});
