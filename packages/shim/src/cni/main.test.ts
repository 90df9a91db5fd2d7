/**
 * The compiled executable: malformed requests produce a CNI error result on stdout and
 * exit status 1, never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function plugin(env: Record<string, string>, stdin: string) {
  const r = spawnSync(process.execPath, [MAIN], {
    // A bare environment, as some runtimes give plugins: no PATH.
    env: { ...env },
    input: stdin,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fullEnv = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/var/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
};

function assertCniError(r: ReturnType<typeof plugin>, code: number, msg: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out).sort(), ['cniVersion', 'code', 'details', 'msg']);
  assert.equal(out['code'], code);
  assert.match(out['msg'] as string, msg);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
}

describe('palisade-cni executable', () => {
  it('starts with a node shebang', () => {
    assert.ok(readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node\n'));
  });

  it('prints VERSION', () => {
    const r = plugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    assert.equal(r.status, 0);
    assert.deepEqual(JSON.parse(r.stdout), {
      cniVersion: '1.0.0',
      supportedVersions: ['0.4.0', '1.0.0'],
    });
  });

  it('answers malformed stdin with code 6', () => {
    assertCniError(plugin(fullEnv, '{"cniVersion": '), 6, /not valid JSON/);
    assertCniError(plugin(fullEnv, ''), 6, /stdin is empty/);
  });

  it('answers a missing environment variable with code 4', () => {
    assertCniError(plugin({}, '{}'), 4, /CNI_COMMAND: required/);
    assertCniError(plugin({ ...fullEnv, CNI_IFNAME: '' }, '{}'), 4, /CNI_IFNAME: required/);
  });

  it('answers an unknown command with code 4', () => {
    assertCniError(
      plugin({ ...fullEnv, CNI_COMMAND: 'UPDATE' }, '{}'),
      4,
      /unknown command "UPDATE"/,
    );
  });

  it('answers an invalid config with code 7 naming the field', () => {
    const conf = {
      cniVersion: '1.0.0',
      name: 'palisade',
      type: 'palisade-cni',
      shimSocket: '/run/palisade/shim.sock',
      ipam: { subnets: ['10.1.0.0/24', '10.2.0.0/24'] },
    };
    assertCniError(
      plugin(fullEnv, JSON.stringify(conf)),
      7,
      /ipam.subnets: at most one subnet per family/,
    );
    const noSocket = JSON.stringify({ ...conf, shimSocket: undefined });
    assertCniError(plugin(fullEnv, noSocket), 7, /shimSocket: required/);
  });

  it('answers an unsupported cniVersion with code 1', () => {
    assertCniError(plugin(fullEnv, '{"cniVersion":"0.3.1"}'), 1, /"0.3.1" is not supported/);
  });
});
