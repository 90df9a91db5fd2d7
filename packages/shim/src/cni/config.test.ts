import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPrefix } from '@palisade/core';
import { DEFAULT_DATA_DIR, DEFAULT_MTU, parseNetConf, peekCniVersion } from './config.js';
import { CniError } from './errors.js';
import type { CniErrorCode } from './errors.js';

const base = {
  cniVersion: '1.0.0',
  name: 'palisade',
  type: 'palisade-cni',
  shimSocket: '/run/palisade/node1/shim.sock',
  mtu: 1500,
  ipam: { subnets: ['10.1.0.0/24', 'fd00:1::/120'], dataDir: '/var/lib/palisade/ipam' },
};

function withField(path: string, value: unknown): string {
  const conf = structuredClone(base) as Record<string, unknown>;
  const [a, b] = path.split('.');
  if (b === undefined) {
    if (value === undefined) delete conf[a!];
    else conf[a!] = value;
  } else {
    const inner = conf[a!] as Record<string, unknown>;
    if (value === undefined) delete inner[b];
    else inner[b] = value;
  }
  return JSON.stringify(conf);
}

function refused(text: string, code: CniErrorCode, msg: RegExp): void {
  assert.throws(
    () => parseNetConf(text),
    (err: unknown) => {
      assert.ok(err instanceof CniError, `expected CniError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.match(err.message, msg);
      return true;
    },
  );
}

describe('parseNetConf', () => {
  it('parses the documented example', () => {
    const c = parseNetConf(JSON.stringify(base));
    assert.equal(c.cniVersion, '1.0.0');
    assert.equal(c.name, 'palisade');
    assert.equal(c.type, 'palisade-cni');
    assert.equal(c.shimSocket, '/run/palisade/node1/shim.sock');
    assert.equal(c.mtu, 1500);
    assert.deepEqual(c.ipam.subnets.map(formatPrefix), ['10.1.0.0/24', 'fd00:1::/120']);
    assert.equal(c.ipam.dataDir, '/var/lib/palisade/ipam');
    assert.equal(c.prevResult, undefined);
  });

  it('applies defaults for mtu and ipam.dataDir', () => {
    const c = parseNetConf(withField('ipam.dataDir', undefined).replace('"mtu":1500,', ''));
    assert.equal(c.mtu, DEFAULT_MTU);
    assert.equal(c.ipam.dataDir, DEFAULT_DATA_DIR);
  });

  it('sorts subnets IPv4 first and accepts a single subnet of either family', () => {
    const c = parseNetConf(withField('ipam.subnets', ['fd00:1::/120', '10.1.0.0/24']));
    assert.deepEqual(
      c.ipam.subnets.map((s) => s.family),
      [4, 6],
    );
    assert.equal(parseNetConf(withField('ipam.subnets', ['fd00:1::/64'])).ipam.subnets.length, 1);
  });

  it('accepts cniVersion 0.4.0, prevResult and unknown top-level fields the runtime adds', () => {
    const c = parseNetConf(
      JSON.stringify({
        ...base,
        cniVersion: '0.4.0',
        prevResult: { ips: [] },
        runtimeConfig: { portMappings: [] },
        args: {},
      }),
    );
    assert.equal(c.cniVersion, '0.4.0');
    assert.deepEqual(c.prevResult, { ips: [] });
  });

  it('refuses what is not JSON (code 6)', () => {
    refused('{not json', 'DecodeFailure', /not valid JSON/);
    refused('', 'DecodeFailure', /stdin is empty/);
  });

  it('refuses a non-object (code 7)', () => {
    refused('[]', 'InvalidNetworkConfig', /\(root\): must be a JSON object/);
  });

  it('refuses a missing or unsupported cniVersion', () => {
    refused(withField('cniVersion', undefined), 'InvalidNetworkConfig', /cniVersion: required/);
    refused(withField('cniVersion', 1), 'InvalidNetworkConfig', /cniVersion: must be a string/);
    refused(
      withField('cniVersion', '0.3.1'),
      'IncompatibleVersion',
      /"0.3.1" is not supported.*0.4.0, 1.0.0/,
    );
  });

  it('refuses a missing or malformed name and type', () => {
    refused(withField('name', undefined), 'InvalidNetworkConfig', /name: required/);
    refused(withField('name', '../etc'), 'InvalidNetworkConfig', /name: "..\/etc" must start/);
    refused(withField('type', undefined), 'InvalidNetworkConfig', /type: required/);
    refused(withField('type', ''), 'InvalidNetworkConfig', /type: must not be empty/);
  });

  it('refuses a missing or relative shimSocket', () => {
    refused(withField('shimSocket', undefined), 'InvalidNetworkConfig', /shimSocket: required/);
    refused(
      withField('shimSocket', 'shim.sock'),
      'InvalidNetworkConfig',
      /shimSocket: must be an absolute path/,
    );
    refused(withField('shimSocket', 3), 'InvalidNetworkConfig', /shimSocket: must be a string/);
  });

  it('refuses a bad mtu', () => {
    refused(withField('mtu', '1500'), 'InvalidNetworkConfig', /mtu: must be an integer/);
    refused(withField('mtu', 1500.5), 'InvalidNetworkConfig', /mtu: must be an integer/);
    refused(withField('mtu', 70000), 'InvalidNetworkConfig', /mtu: must be between 1280 and 65535/);
    refused(withField('mtu', 1000), 'InvalidNetworkConfig', /mtu:.*IPv6 needs 1280/);
    assert.equal(
      parseNetConf(JSON.stringify({ ...base, mtu: 1000, ipam: { subnets: ['10.1.0.0/24'] } })).mtu,
      1000,
    );
  });

  it('refuses a missing or malformed ipam section', () => {
    refused(withField('ipam', undefined), 'InvalidNetworkConfig', /ipam: required/);
    refused(withField('ipam', 'x'), 'InvalidNetworkConfig', /ipam: must be an object/);
    refused(withField('ipam.subnets', undefined), 'InvalidNetworkConfig', /ipam.subnets: required/);
    refused(
      withField('ipam.subnets', '10.1.0.0/24'),
      'InvalidNetworkConfig',
      /ipam.subnets: must be an array/,
    );
    refused(
      withField('ipam.subnets', []),
      'InvalidNetworkConfig',
      /ipam.subnets: must hold 1 or 2 subnets, got 0/,
    );
    refused(
      withField('ipam.subnets', ['10.1.0.0/24', 'fd00::/64', '10.2.0.0/24']),
      'InvalidNetworkConfig',
      /got 3/,
    );
    refused(
      withField('ipam.dataDir', 'relative/dir'),
      'InvalidNetworkConfig',
      /ipam.dataDir: must be an absolute path/,
    );
  });

  it('refuses unknown ipam fields with code 2', () => {
    refused(withField('ipam.type', 'host-local'), 'UnsupportedField', /ipam.type: unknown field/);
  });

  it('refuses bad subnets, naming the entry', () => {
    refused(
      withField('ipam.subnets', ['10.1.0.0']),
      'InvalidNetworkConfig',
      /ipam.subnets\[0\]: "10.1.0.0" is not a CIDR/,
    );
    refused(
      withField('ipam.subnets', ['10.1.0.0/24', 'banana']),
      'InvalidNetworkConfig',
      /ipam.subnets\[1\]: "banana" is not a CIDR/,
    );
    refused(
      withField('ipam.subnets', [24]),
      'InvalidNetworkConfig',
      /ipam.subnets\[0\]: must be a CIDR string/,
    );
    refused(
      withField('ipam.subnets', ['10.1.0.5/24']),
      'InvalidNetworkConfig',
      /host bits set \(did you mean 10.1.0.0\/24\?\)/,
    );
    refused(withField('ipam.subnets', ['10.1.0.0/31']), 'InvalidNetworkConfig', /too small.*\/30/);
    refused(withField('ipam.subnets', ['fd00::/127']), 'InvalidNetworkConfig', /too small.*\/126/);
  });

  it('refuses two subnets of one family', () => {
    refused(
      withField('ipam.subnets', ['10.1.0.0/24', '10.2.0.0/24']),
      'InvalidNetworkConfig',
      /ipam.subnets: at most one subnet per family, got two IPv4 subnets \(10.1.0.0\/24, 10.2.0.0\/24\)/,
    );
    refused(
      withField('ipam.subnets', ['fd00:1::/120', 'fd00:2::/120']),
      'InvalidNetworkConfig',
      /two IPv6/,
    );
  });

  it('refuses a prevResult that is not an object', () => {
    refused(
      JSON.stringify({ ...base, prevResult: [] }),
      'InvalidNetworkConfig',
      /prevResult: must be an object/,
    );
  });
});

describe('peekCniVersion', () => {
  it('returns a supported version from the raw text, else the current one', () => {
    assert.equal(peekCniVersion('{"cniVersion":"0.4.0"}'), '0.4.0');
    assert.equal(peekCniVersion('{"cniVersion":"0.3.1"}'), '1.0.0');
    assert.equal(peekCniVersion('garbage'), '1.0.0');
  });
});
