import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatAddress, parsePrefix } from '@palisade/core';
import type { Prefix } from '@palisade/core';
import { CniError } from './errors.js';
import { IpamStore, lastReservedFile } from './ipamStore.js';

const root = mkdtempSync(join(tmpdir(), 'palisade-ipam-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshStore = (): IpamStore => new IpamStore(join(root, `d${n++}`), 'palisade');
const p = (s: string): Prefix => parsePrefix(s)!;
const v4 = p('10.1.0.0/24');
const v6 = p('fd00:1::/120');
const owner = (id: string, ifName = 'eth0') => ({ containerId: id, ifName });

describe('IpamStore', () => {
  it('allocates one address per subnet, skipping network and .1/::1, with one file each', async () => {
    const s = freshStore();
    const got = await s.allocate([v4, v6], owner('c1'));
    assert.deepEqual(
      got.map((a) => formatAddress(a.address)),
      ['10.1.0.2', 'fd00:1::2'],
    );
    assert.ok(got.every((a) => !a.reused));
    assert.equal(readFileSync(join(s.dir, '10.1.0.2'), 'utf8'), 'c1\neth0');
    assert.equal(readFileSync(join(s.dir, 'fd00:1::2'), 'utf8'), 'c1\neth0');
    assert.equal(readFileSync(join(s.dir, lastReservedFile(4)), 'utf8'), '10.1.0.2');
    assert.equal(readFileSync(join(s.dir, lastReservedFile(6)), 'utf8'), 'fd00:1::2');
  });

  it('continues round-robin after the last reserved address, also after a release', async () => {
    const s = freshStore();
    await s.allocate([v4], owner('c1'));
    await s.allocate([v4], owner('c2'));
    await s.release(owner('c1'));
    const third = await s.allocate([v4], owner('c3'));
    assert.equal(formatAddress(third[0]!.address), '10.1.0.4');
  });

  it('reuses the address a container interface already holds', async () => {
    const s = freshStore();
    const first = await s.allocate([v4, v6], owner('c1'));
    await s.allocate([v4], owner('c2'));
    const again = await s.allocate([v4, v6], owner('c1'));
    assert.deepEqual(
      again.map((a) => formatAddress(a.address)),
      first.map((a) => formatAddress(a.address)),
    );
    assert.ok(again.every((a) => a.reused));
    const other = await s.allocate([v4], owner('c1', 'net1'));
    assert.notEqual(formatAddress(other[0]!.address), formatAddress(first[0]!.address));
  });

  it('reports exhaustion with code 100 naming the subnet, and undoes the other family', async () => {
    const s = freshStore();
    const tiny = p('10.9.0.0/30'); // one usable address: 10.9.0.2
    await s.allocate([tiny], owner('c1'));
    await assert.rejects(s.allocate([v6, tiny], owner('c2')), (err: unknown) => {
      assert.ok(err instanceof CniError);
      assert.equal(err.code, 'AddressExhausted');
      assert.equal(err.number, 100);
      assert.equal(err.message, 'no free address in 10.9.0.0/30');
      return true;
    });
    assert.deepEqual(
      await s.owned(owner('c2')),
      [],
      'the IPv6 address of the failed call is released',
    );
  });

  it('exhausts a /25 after exactly 125 addresses, never handing out .0, .1 or the broadcast', async () => {
    const s = freshStore();
    const half = p('10.1.0.0/25');
    const seen = new Set<string>();
    for (let i = 0; i < 125; i++) {
      const [a] = await s.allocate([half], owner(`c${i}`));
      seen.add(formatAddress(a!.address));
    }
    assert.equal(seen.size, 125);
    assert.ok(!seen.has('10.1.0.0') && !seen.has('10.1.0.1') && !seen.has('10.1.0.127'));
    await assert.rejects(
      s.allocate([half], owner('one-too-many')),
      /no free address in 10.1.0.0\/25/,
    );
  });

  it('releases only the owner’s addresses; releasing nothing is fine', async () => {
    const s = freshStore();
    await s.allocate([v4, v6], owner('c1'));
    await s.allocate([v4, v6], owner('c2'));
    const released = await s.release(owner('c1'));
    assert.deepEqual(released.map(formatAddress).sort(), ['10.1.0.2', 'fd00:1::2']);
    assert.deepEqual(await s.release(owner('c1')), []);
    assert.deepEqual(await freshStore().release(owner('c1')), [], 'missing directory');
    assert.deepEqual((await s.owned(owner('c2'))).map(formatAddress), ['10.1.0.3', 'fd00:1::3']);
  });

  it('reads host-local style records with \\r\\n and ignores foreign files', async () => {
    const s = freshStore();
    await s.allocate([v4], owner('c1'));
    writeFileSync(join(s.dir, '10.1.0.50'), 'c9\r\neth0\r\n');
    writeFileSync(join(s.dir, 'lock'), '');
    assert.deepEqual((await s.owned(owner('c9'))).map(formatAddress), ['10.1.0.50']);
  });

  it('never hands out one address twice to many concurrent callers', async () => {
    const s = freshStore();
    const small = p('10.2.0.0/26'); // 61 usable
    const results = await Promise.allSettled(
      Array.from({ length: 70 }, (_, i) => s.allocate([small], owner(`c${i}`))),
    );
    const ok = results.flatMap((r) =>
      r.status === 'fulfilled' ? [formatAddress(r.value[0]!.address)] : [],
    );
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(ok.length, 61);
    assert.equal(new Set(ok).size, 61, 'no duplicates');
    assert.equal(failed.length, 9);
    const files = readdirSync(s.dir).filter((f) => f.startsWith('10.'));
    assert.equal(files.length, 61);
  });

  it('never hands out one address twice to two processes allocating at once', async () => {
    const s = freshStore();
    const module = fileURLToPath(new URL('./ipamStore.js', import.meta.url));
    const script = `
      const { IpamStore } = await import(${JSON.stringify(module)});
      const subnet = { family: 4, addr: BigInt(process.env.ADDR), len: 24 };
      const store = new IpamStore(process.env.DATA_DIR, 'palisade');
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) =>
        store.allocate([subnet], { containerId: process.env.TAG + i, ifName: 'eth0' })));
      process.stdout.write(JSON.stringify(got.map((g) => g[0].address.addr.toString())));
    `;
    const run = (tag: string): Promise<string[]> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...process.env, ADDR: v4.addr.toString(), DATA_DIR: join(s.dir, '..'), TAG: tag },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0
            ? resolve(JSON.parse(out) as string[])
            : reject(new Error(`child ${tag}: ${err}`)),
        );
      });
    const [a, b] = await Promise.all([run('a'), run('b')]);
    const all = [...a, ...b];
    assert.equal(all.length, 200);
    assert.equal(new Set(all).size, 200, 'no address handed out twice');
    assert.equal(readdirSync(s.dir).filter((f) => f.startsWith('10.')).length, 200);
  });
});
