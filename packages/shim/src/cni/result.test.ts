import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAddress, parsePrefix } from '@palisade/core';
import { CniError } from './errors.js';
import {
  addressesOfPrevResult,
  buildAddResult,
  buildErrorResult,
  buildVersionResult,
} from './result.js';
import type { AddOutcome } from './result.js';

const outcome = (cniVersion: '0.4.0' | '1.0.0'): AddOutcome => ({
  cniVersion,
  hostIf: { name: 'pal0123456789ab', mac: '56:ff:e7:11:b2:be' },
  podIf: { name: 'eth0', mac: 'ce:0f:22:1c:98:15', sandbox: '/var/run/netns/cni-1' },
  addresses: [
    { subnet: parsePrefix('10.1.0.0/24')!, address: parseAddress('10.1.0.5')! },
    { subnet: parsePrefix('fd00:1::/120')!, address: parseAddress('fd00:1::5')! },
  ],
});

describe('buildAddResult', () => {
  it('builds a CNI 1.0.0 result: host and pod interface, ips on interface 1, default routes', () => {
    assert.deepEqual(buildAddResult(outcome('1.0.0')), {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'pal0123456789ab', mac: '56:ff:e7:11:b2:be' },
        { name: 'eth0', mac: 'ce:0f:22:1c:98:15', sandbox: '/var/run/netns/cni-1' },
      ],
      ips: [
        { address: '10.1.0.5/24', gateway: '169.254.1.1', interface: 1 },
        { address: 'fd00:1::5/120', gateway: 'fe80::1', interface: 1 },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '169.254.1.1' },
        { dst: '::/0', gw: 'fe80::1' },
      ],
      dns: {},
    });
  });

  it('adds ips[].version for a 0.4.0 result', () => {
    const r = buildAddResult(outcome('0.4.0'));
    assert.equal(r.cniVersion, '0.4.0');
    assert.deepEqual(
      r.ips.map((ip) => ip.version),
      ['4', '6'],
    );
  });

  it('builds a single-family result', () => {
    const o = outcome('1.0.0');
    const r = buildAddResult({ ...o, addresses: o.addresses.slice(1) });
    assert.deepEqual(r.ips, [{ address: 'fd00:1::5/120', gateway: 'fe80::1', interface: 1 }]);
    assert.deepEqual(r.routes, [{ dst: '::/0', gw: 'fe80::1' }]);
  });
});

describe('buildErrorResult', () => {
  it('maps the error code to its CNI number and keeps message and details', () => {
    const e = new CniError('TryAgainLater', 'shim unreachable', { details: 'POST /v1/endpoints' });
    assert.deepEqual(buildErrorResult('1.0.0', e), {
      cniVersion: '1.0.0',
      code: 11,
      msg: 'shim unreachable',
      details: 'POST /v1/endpoints',
    });
    assert.equal(buildErrorResult('0.4.0', new CniError('InvalidEnvironment', 'x')).code, 4);
    assert.equal(new CniError('DecodeFailure', 'x').number, 6);
    assert.equal(new CniError('InvalidNetworkConfig', 'x').number, 7);
    assert.equal(new CniError('IncompatibleVersion', 'x').number, 1);
  });
});

describe('buildVersionResult', () => {
  it('lists 0.4.0 and 1.0.0', () => {
    assert.deepEqual(buildVersionResult(), {
      cniVersion: '1.0.0',
      supportedVersions: ['0.4.0', '1.0.0'],
    });
  });
});

describe('addressesOfPrevResult', () => {
  it('reads the addresses of a previous result', () => {
    const prev = JSON.parse(JSON.stringify(buildAddResult(outcome('1.0.0')))) as Record<
      string,
      unknown
    >;
    assert.deepEqual(addressesOfPrevResult(prev), [
      parseAddress('10.1.0.5'),
      parseAddress('fd00:1::5'),
    ]);
    assert.deepEqual(addressesOfPrevResult({}), []);
  });
  it('refuses a malformed previous result naming the field', () => {
    assert.throws(() => addressesOfPrevResult({ ips: 'x' }), /prevResult.ips: must be an array/);
    assert.throws(
      () => addressesOfPrevResult({ ips: [{ address: 'nope/24' }] }),
      /prevResult.ips\[0\].address: "nope\/24"/,
    );
    assert.throws(() => addressesOfPrevResult({ ips: [{}] }), /prevResult.ips\[0\].address/);
  });
});
