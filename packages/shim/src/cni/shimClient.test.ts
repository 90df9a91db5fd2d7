import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CniError } from './errors.js';
import { startFakeShim } from './fakeShim.js';
import type { FakeShim } from './fakeShim.js';
import { shimErrorMessage, unixSocketShim } from './shimClient.js';
import type { EndpointRegistration } from './shimClient.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-shimclient-'));
let shim: FakeShim;
before(async () => {
  shim = await startFakeShim(join(dir, 'shim.sock'));
});
after(async () => {
  await shim.close();
  rmSync(dir, { recursive: true, force: true });
});

const reg: EndpointRegistration = {
  containerId: 'c1',
  netns: '/var/run/netns/cni-1',
  ifName: 'eth0',
  hostIfName: 'pal0123456789ab',
  hostIfIndex: 7,
  ips: ['10.1.0.5', 'fd00:1::5'],
  mac: 'ce:0f:22:1c:98:15',
  pod: { namespace: 'default', name: 'web-0' },
};

function isTryAgain(re: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CniError);
    assert.equal(err.number, 11);
    assert.match(err.message, re);
    return true;
  };
}

describe('unixSocketShim', () => {
  it('registers, looks up and removes an endpoint with the documented requests', async () => {
    shim.mode = 'ok';
    const api = unixSocketShim(shim.socketPath);
    await api.register(reg);
    assert.equal(await api.has('c1'), true);
    await api.unregister('c1');
    assert.equal(await api.has('c1'), false);
    await api.unregister('c1'); // 404 is fine
    assert.deepEqual(
      shim.requests.map((r) => `${r.method} ${r.url}`),
      [
        'POST /v1/endpoints',
        'GET /v1/endpoints/c1',
        'DELETE /v1/endpoints/c1',
        'GET /v1/endpoints/c1',
        'DELETE /v1/endpoints/c1',
      ],
    );
    assert.deepEqual(shim.requests[0]!.body, reg);
  });

  it('turns a refusal into code 11 carrying the shim’s message', async () => {
    shim.mode = 'refuse';
    const api = unixSocketShim(shim.socketPath);
    await assert.rejects(
      api.register(reg),
      isTryAgain(/shim refused to register endpoint c1: NotReady: datapath not loaded yet/),
    );
    await assert.rejects(api.unregister('c1'), isTryAgain(/NotReady/));
    await assert.rejects(api.has('c1'), isTryAgain(/NotReady/));
  });

  it('turns an unreachable socket into code 11', async () => {
    const api = unixSocketShim(join(dir, 'nobody-here.sock'));
    await assert.rejects(
      api.register(reg),
      isTryAgain(/nobody-here.sock is unreachable: .*ENOENT/),
    );
  });

  it('gives up after the timeout with code 11', async () => {
    shim.mode = 'hang';
    const api = unixSocketShim(shim.socketPath, 200);
    const t0 = Date.now();
    await assert.rejects(api.register(reg), isTryAgain(/did not answer within 0.2s/));
    assert.ok(Date.now() - t0 < 5000);
  });
});

describe('shimErrorMessage', () => {
  it('reads {"error":{"code","message"}} and falls back to the status', () => {
    assert.equal(
      shimErrorMessage({
        status: 409,
        body: { error: { code: 'Conflict', message: 'ip in use' } },
      }),
      'Conflict: ip in use',
    );
    assert.equal(shimErrorMessage({ status: 500, body: { error: { message: 'boom' } } }), 'boom');
    assert.equal(shimErrorMessage({ status: 502, body: undefined }), 'HTTP 502');
  });
});
