import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { netnsNameOf, parseCniArgs, parseCommand, parseRequestEnv, podRefOf } from './env.js';
import { CniError } from './errors.js';
import type { CniErrorCode } from './errors.js';
import { hostVethName } from './names.js';

const good = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/cni-1234',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
  CNI_PATH: '/opt/cni/bin',
};

function refused(fn: () => unknown, code: CniErrorCode, msg: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, msg);
    return true;
  });
}

describe('parseCommand', () => {
  it('accepts the CNI commands', () => {
    for (const c of ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC']) {
      assert.equal(parseCommand({ CNI_COMMAND: c }), c);
    }
  });
  it('refuses a missing or unknown command with code 4', () => {
    refused(() => parseCommand({}), 'InvalidEnvironment', /CNI_COMMAND: required/);
    refused(
      () => parseCommand({ CNI_COMMAND: 'add' }),
      'InvalidEnvironment',
      /CNI_COMMAND: unknown command "add"/,
    );
  });
});

describe('parseRequestEnv', () => {
  it('parses a complete ADD environment', () => {
    const e = parseRequestEnv('ADD', good);
    assert.equal(e.containerId, 'abc123');
    assert.equal(e.netns, '/var/run/netns/cni-1234');
    assert.equal(e.netnsName, 'cni-1234');
    assert.equal(e.ifName, 'eth0');
    assert.equal(e.path, '/opt/cni/bin');
    assert.deepEqual(podRefOf(e), { namespace: 'default', name: 'web-0' });
  });

  for (const v of ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH', 'CNI_NETNS']) {
    it(`refuses ADD without ${v} (code 4, names the variable)`, () => {
      refused(
        () => parseRequestEnv('ADD', { ...good, [v]: undefined }),
        'InvalidEnvironment',
        new RegExp(`^${v}: required`),
      );
      refused(
        () => parseRequestEnv('ADD', { ...good, [v]: '' }),
        'InvalidEnvironment',
        new RegExp(`^${v}: required`),
      );
    });
  }

  it('lets DEL go without CNI_NETNS or with a path ip -n cannot open', () => {
    const e = parseRequestEnv('DEL', { ...good, CNI_NETNS: undefined });
    assert.equal(e.netns, undefined);
    assert.equal(e.netnsName, undefined);
    assert.equal(
      parseRequestEnv('DEL', { ...good, CNI_NETNS: '/proc/42/ns/net' }).netnsName,
      undefined,
    );
  });

  it('refuses a netns path outside /var/run/netns and /run/netns for ADD and CHECK (code 101)', () => {
    refused(
      () => parseRequestEnv('ADD', { ...good, CNI_NETNS: '/proc/42/ns/net' }),
      'UnsupportedNetns',
      /CNI_NETNS: "\/proc\/42\/ns\/net"/,
    );
    refused(
      () => parseRequestEnv('CHECK', { ...good, CNI_NETNS: '/var/run/netns/a/b' }),
      'UnsupportedNetns',
      /CNI_NETNS/,
    );
  });

  it('refuses malformed container ids and interface names', () => {
    refused(
      () => parseRequestEnv('ADD', { ...good, CNI_CONTAINERID: '../x' }),
      'InvalidEnvironment',
      /CNI_CONTAINERID: "..\/x"/,
    );
    refused(
      () => parseRequestEnv('ADD', { ...good, CNI_IFNAME: 'averyveryverylongname' }),
      'InvalidEnvironment',
      /CNI_IFNAME: .* longer than 15/,
    );
    refused(
      () => parseRequestEnv('ADD', { ...good, CNI_IFNAME: 'eth/0' }),
      'InvalidEnvironment',
      /CNI_IFNAME: "eth\/0" is not a valid/,
    );
    refused(
      () => parseRequestEnv('ADD', { ...good, CNI_IFNAME: '..' }),
      'InvalidEnvironment',
      /CNI_IFNAME/,
    );
  });

  it('refuses malformed CNI_ARGS', () => {
    refused(
      () => parseRequestEnv('ADD', { ...good, CNI_ARGS: 'K8S_POD_NAME' }),
      'InvalidEnvironment',
      /CNI_ARGS: "K8S_POD_NAME" is not KEY=VALUE/,
    );
  });
});

describe('parseCniArgs', () => {
  it('splits KEY=VALUE pairs, tolerating empty pairs, empty values and = in values', () => {
    assert.deepEqual(parseCniArgs('A=1;;B=;C=x=y'), { A: '1', B: '', C: 'x=y' });
    assert.deepEqual(parseCniArgs(undefined), {});
    assert.deepEqual(parseCniArgs(''), {});
  });
  it('refuses a pair without a key', () => {
    refused(() => parseCniArgs('=v'), 'InvalidEnvironment', /"=v"/);
  });
});

describe('netnsNameOf', () => {
  it('takes the basename of paths under /var/run/netns and /run/netns', () => {
    assert.equal(netnsNameOf('/var/run/netns/cni-1'), 'cni-1');
    assert.equal(netnsNameOf('/run/netns/x'), 'x');
  });
  it('refuses other paths', () => {
    for (const p of [
      '/proc/1/ns/net',
      '/var/run/netns/',
      '/var/run/netns/..',
      '/run/netns/a/b',
      'x',
    ]) {
      refused(() => netnsNameOf(p), 'UnsupportedNetns', /ip -n/);
    }
  });
});

describe('podRefOf', () => {
  it('falls back to namespace "" and the container id', () => {
    assert.deepEqual(podRefOf({ args: {}, containerId: 'c1' }), { namespace: '', name: 'c1' });
  });
});

describe('hostVethName', () => {
  it('is pal + 12 hex digits of sha256(containerId + ifName), 15 characters, stable', () => {
    const n = hostVethName('abc123', 'eth0');
    assert.match(n, /^pal[0-9a-f]{12}$/);
    assert.equal(n.length, 15);
    assert.equal(n, hostVethName('abc123', 'eth0'));
    assert.notEqual(n, hostVethName('abc123', 'eth1'));
    const digest = createHash('sha256').update('abc123eth0').digest('hex');
    assert.equal(n, `pal${digest.slice(0, 12)}`);
  });
});
