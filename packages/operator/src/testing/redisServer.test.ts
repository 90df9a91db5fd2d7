import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { OperatorError } from '../errors.js';
import { freePort, startRedis, type RedisServer } from './redisServer.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** A client that fails fast instead of retrying, so checks against a dead server are quick. */
function client(server: RedisServer): Redis {
  const r = new Redis(server.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
  r.on('error', () => {});
  return r;
}

describe('startRedis', () => {
  const servers: RedisServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('runs a server on loopback whose data survives a crash and restart', async () => {
    const lines: string[] = [];
    const server = await startRedis({ log: (l) => lines.push(l) });
    servers.push(server);
    assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    assert.ok(existsSync(server.dir));
    assert.ok(
      lines.some((l) => /Ready to accept connections/i.test(l)),
      'server output is logged',
    );

    let c = client(server);
    assert.equal(await c.ping(), 'PONG');
    await c.set('k', 'v1');
    c.disconnect();

    const pid1 = server.pid;
    assert.ok(pid1 !== undefined && alive(pid1));
    await server.kill();
    assert.equal(server.pid, undefined);
    assert.ok(await waitGone(pid1), 'killed process is gone');
    assert.ok(existsSync(server.dir), 'kill keeps the data directory');
    c = client(server);
    await assert.rejects(c.ping());
    c.disconnect();
    await server.kill(); // idempotent while down

    await server.start();
    assert.notEqual(server.pid, pid1);
    c = client(server);
    assert.equal(await c.get('k'), 'v1', 'acknowledged write survives SIGKILL');
    await c.set('k', 'v2');
    c.disconnect();

    const t0 = Date.now();
    await server.restart(200);
    assert.ok(Date.now() - t0 >= 200, 'restart stays down for downMs');
    c = client(server);
    assert.equal(await c.get('k'), 'v2');
    c.disconnect();
    await server.start(); // no-op while running
  });

  it('stop ends the process, removes the directory, and is idempotent', async () => {
    const server = await startRedis();
    servers.push(server);
    const pid = server.pid;
    assert.ok(pid !== undefined);
    await Promise.all([server.stop(), server.stop()]);
    assert.ok(await waitGone(pid));
    assert.equal(existsSync(server.dir), false);
    await server.stop();
    await assert.rejects(server.start(), (e) => e instanceof OperatorError && e.code === 'CONFIG');
  });

  it('two servers get different ports and directories', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    servers.push(a, b);
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.dir, b.dir);
  });

  it('fails with a CONFIG error when the binary cannot run', async () => {
    await assert.rejects(
      startRedis({ binary: '/nonexistent/redis-server' }),
      (e) =>
        e instanceof OperatorError &&
        e.code === 'CONFIG' &&
        e.message.includes('/nonexistent/redis-server'),
    );
  });

  it('finds free ports', async () => {
    const p = await freePort();
    assert.ok(p > 0 && p < 65536);
  });

  const noSetpriv = !['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
  it(
    'does not leave the server running when the test process is killed',
    {
      skip: noSetpriv && 'util-linux setpriv is not installed',
    },
    async () => {
      const moduleUrl = new URL('./redisServer.js', import.meta.url).href;
      const script = `
      import { startRedis } from ${JSON.stringify(moduleUrl)};
      const s = await startRedis();
      console.log(JSON.stringify({ pid: s.pid, dir: s.dir }));
      process.kill(process.pid, 'SIGKILL');`;
      const out = await new Promise<string>((resolve) =>
        execFile(process.execPath, ['--input-type=module', '-e', script], (_err, stdout) =>
          resolve(stdout),
        ),
      );
      const { pid, dir } = JSON.parse(out) as { pid: number; dir: string };
      rmSync(dir, { recursive: true, force: true });
      assert.ok(pid > 0);
      assert.ok(await waitGone(pid), `redis-server ${pid} outlived its killed parent`);
    },
  );

  it('does not leave the server running when the test process exits', async () => {
    const moduleUrl = new URL('./redisServer.js', import.meta.url).href;
    const script = `
      import { startRedis } from ${JSON.stringify(moduleUrl)};
      const s = await startRedis();
      console.log(JSON.stringify({ pid: s.pid, dir: s.dir }));
      process.exit(0);`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--input-type=module',
      '-e',
      script,
    ]);
    const { pid, dir } = JSON.parse(stdout) as { pid: number; dir: string };
    assert.ok(pid > 0);
    assert.ok(await waitGone(pid), `redis-server ${pid} outlived its parent`);
    assert.equal(existsSync(dir), false, 'directory removed on exit');
  });
});
