import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  createLabelFilter,
  identityKey,
  securityLabels,
  type SecurityLabels,
} from '@palisade/core';
import { OperatorError, type OperatorErrorCode } from '../errors.js';
import { jsonLogger } from '../log.js';
import { freePort, startRedis, type RedisServer } from '../testing/redisServer.js';
import { COLLECT_CHUNK, RedisIdentityStore, type RedisIdentityStoreOptions } from './redisStore.js';
import type { IdentityStore } from './store.js';
import { describeIdentityStoreContract } from './storeContract.js';

const filter = createLabelFilter();

function labelsOf(i: number, ns = 'bench'): { key: string; labels: SecurityLabels } {
  const labels = securityLabels({
    namespace: ns,
    serviceAccount: 'default',
    podLabels: { app: `app-${i}`, tier: i % 2 ? 'web' : 'db' },
    namespaceLabels: { team: 'a' },
    namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    filter,
  });
  return { key: identityKey(labels), labels };
}

function isStoreError(code: OperatorErrorCode) {
  return (e: unknown): boolean => e instanceof OperatorError && e.code === code;
}

let shared: Promise<RedisServer> | undefined;
const sharedServer = (): Promise<RedisServer> => (shared ??= startRedis());
after(async () => {
  if (shared) await (await shared).stop();
});

/** Deletes every key under `prefix`. */
async function dropPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Opens stores under a fresh prefix on the shared server; `done` closes them and drops it. */
async function storesOnSharedServer(extra: Partial<RedisIdentityStoreOptions> = {}) {
  const server = await sharedServer();
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  const opened: RedisIdentityStore[] = [];
  const open = (): RedisIdentityStore => {
    const s = new RedisIdentityStore({ url: server.url, prefix, ...extra });
    opened.push(s);
    return s;
  };
  return {
    server,
    prefix,
    open,
    done: async () => {
      await Promise.all(opened.map((s) => s.close()));
      await dropPrefix(server.url, prefix);
    },
  };
}

describeIdentityStoreContract('redis', async () => {
  const s = await storesOnSharedServer();
  return {
    store: s.open(),
    makeAnother: () => Promise.resolve<IdentityStore>(s.open()),
    cleanup: s.done,
  };
});

describe('RedisIdentityStore', () => {
  it('counts from 256 and stops at `last` without consuming numbers', async () => {
    const s = await storesOnSharedServer({ last: 258 });
    try {
      const store = s.open();
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const l = labelsOf(i);
        ids.push(await store.allocate(l.key, l.labels));
      }
      assert.deepEqual(ids, [256, 257, 258]);
      const l3 = labelsOf(3);
      await assert.rejects(store.allocate(l3.key, l3.labels), isStoreError('IDENTITY_EXHAUSTED'));
      await assert.rejects(store.allocate(l3.key, l3.labels), isStoreError('IDENTITY_EXHAUSTED'));
      const l0 = labelsOf(0);
      assert.equal(await store.allocate(l0.key, l0.labels), 256, 'existing keys still resolve');
      const wider = new RedisIdentityStore({ url: s.server.url, prefix: s.prefix, last: 300 });
      try {
        assert.equal(await wider.allocate(l3.key, l3.labels), 259, 'failed calls took no number');
      } finally {
        await wider.close();
      }
    } finally {
      await s.done();
    }
  });

  it('rejects bad options and bad arguments with typed errors', async () => {
    assert.throws(
      () => new RedisIdentityStore({ url: 'redis://127.0.0.1:1', first: 10, last: 5 }),
      isStoreError('CONFIG'),
    );
    const s = await storesOnSharedServer();
    try {
      const store = s.open();
      const l = labelsOf(1);
      await assert.rejects(store.allocate('', l.labels), isStoreError('IDENTITY_STORE'));
      await assert.rejects(store.markUnused([256], NaN), isStoreError('IDENTITY_STORE'));
      await assert.rejects(store.collect(NaN), isStoreError('IDENTITY_STORE'));
      await store.markUnused([], 1);
      const id = await store.allocate(l.key, l.labels);
      await store.markUnused([id, 1.5, -1, 999_999], 1000);
      assert.deepEqual(await store.collect(Infinity), [id]);
      await store.close();
      await store.close();
      await assert.rejects(store.allocate(l.key, l.labels), isStoreError('IDENTITY_STORE'));
    } finally {
      await s.done();
    }
  });

  it('reports data it cannot read as IDENTITY_STORE', async () => {
    const s = await storesOnSharedServer();
    const raw = new Redis(s.server.url);
    try {
      await raw.hset(`${s.prefix}keys`, '300', 'some-key');
      await raw.hset(`${s.prefix}labels`, '300', '{"namespace": 1}');
      await assert.rejects(
        s.open().list(),
        (e) => isStoreError('IDENTITY_STORE')(e) && /identity 300/.test((e as Error).message),
      );
    } finally {
      raw.disconnect();
      await s.done();
    }
  });

  it('fails calls in bounded time, without crashing, when Redis was never there', async () => {
    const port = await freePort();
    const store = new RedisIdentityStore({ url: `redis://127.0.0.1:${port}` });
    try {
      const t0 = Date.now();
      const l = labelsOf(1);
      await assert.rejects(store.allocate(l.key, l.labels), isStoreError('IDENTITY_STORE'));
      assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    } finally {
      await store.close();
    }
  });

  it('survives Redis restarting mid-run and keeps identities', { timeout: 90_000 }, async () => {
    const server = await startRedis();
    const logged: string[] = [];
    const logger = jsonLogger('test', { level: 'debug', write: (l) => logged.push(l) });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const store = new RedisIdentityStore({ url: server.url, logger });
    const other = new RedisIdentityStore({ url: server.url });
    try {
      const before = new Map<string, number>();
      for (let i = 0; i < 20; i++) {
        const l = labelsOf(i);
        before.set(l.key, await store.allocate(l.key, l.labels));
      }

      // Crash with calls in flight: each either completes or fails with IDENTITY_STORE.
      const inFlight = Array.from({ length: 200 }, (_, i) => {
        const l = labelsOf(1000 + i);
        return store.allocate(l.key, l.labels).then(
          (id) => ({ key: l.key, id }),
          (err: unknown) => {
            assert.ok(isStoreError('IDENTITY_STORE')(err), String(err));
            return undefined;
          },
        );
      });
      const t0 = Date.now();
      await server.kill();
      const settled = await Promise.all(inFlight);
      assert.ok(Date.now() - t0 < 10_000, `in-flight calls settled after ${Date.now() - t0} ms`);

      // While down, every call fails with IDENTITY_STORE within a bounded time.
      const l = labelsOf(5000);
      const calls: [string, () => Promise<unknown>][] = [
        ['allocate', () => store.allocate(l.key, l.labels)],
        ['markUnused', () => store.markUnused([256], 1000)],
        ['list', () => store.list()],
        ['collect', () => store.collect(1000)],
      ];
      const t1 = Date.now();
      await Promise.all(
        calls.map(async ([name, call]) => {
          await assert.rejects(call(), isStoreError('IDENTITY_STORE'), name);
          const ms = Date.now() - t1;
          assert.ok(ms < 10_000, `${name} failed after ${ms} ms`);
        }),
      );

      await server.start();
      const deadline = Date.now() + 15_000;
      let newId: number | undefined;
      while (newId === undefined) {
        try {
          newId = await store.allocate(l.key, l.labels);
        } catch (err) {
          assert.ok(isStoreError('IDENTITY_STORE')(err));
          assert.ok(Date.now() < deadline, 'store did not recover within 15 s');
          await new Promise((r) => setTimeout(r, 100));
        }
      }

      // Identities acknowledged before the crash are all kept, with the same numbers.
      const list = await other.list();
      const listed = new Map(list.map((x) => [x.key, x.id]));
      for (const [key, id] of before) assert.equal(listed.get(key), id);
      const completed = settled.filter((x) => x !== undefined);
      console.log(
        `redis identity store: ${completed.length} of ${settled.length} in-flight allocations ` +
          `completed across the crash, the rest failed with IDENTITY_STORE`,
      );
      for (const { key, id } of completed) assert.equal(listed.get(key), id, key);
      for (let i = 0; i < 20; i++) {
        const li = labelsOf(i);
        assert.equal(await store.allocate(li.key, li.labels), before.get(li.key));
      }
      const maxBefore = Math.max(...list.filter((x) => x.key !== l.key).map((x) => x.id));
      assert.ok(newId > maxBefore, `new number ${newId} above every earlier one (${maxBefore})`);
      assert.equal(new Set(list.map((x) => x.id)).size, list.length);

      assert.deepEqual(unhandled, []);
      assert.ok(
        logged.some((x) => x.includes('redis connection failed')),
        'outage logged',
      );
      assert.ok(
        logged.some((x) => x.includes('redis connection restored')),
        'recovery logged',
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await store.close();
      await other.close();
      await server.stop();
    }
  });

  it('allocates 20k identities at a useful rate and lists them', { timeout: 120_000 }, async () => {
    const s = await storesOnSharedServer();
    try {
      const store = s.open();
      const n = 20_000;
      const sets = Array.from({ length: n }, (_, i) => labelsOf(i));
      const ids = new Array<number>(n);
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          for (let i = next++; i < n; i = next++) {
            const l = sets[i] as (typeof sets)[number];
            ids[i] = await store.allocate(l.key, l.labels);
          }
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      const rate = Math.round(n / secs);
      console.log(`redis identity store: ${n} allocations in ${secs.toFixed(2)} s = ${rate}/s`);
      assert.equal(new Set(ids).size, n);

      const t1 = performance.now();
      const list = await store.list();
      console.log(
        `redis identity store: list of ${list.length} in ${(performance.now() - t1).toFixed(0)} ms`,
      );
      assert.equal(list.length, n);
      const keyOfId = new Map(ids.map((id, i) => [id, sets[i]?.key]));
      for (const x of list) assert.equal(x.key, keyOfId.get(x.id));
      assert.ok(rate > 1000, `only ${rate} allocations/s`);
    } finally {
      await s.done();
    }
  });

  it(
    'collects 10k marked identities while Redis stays responsive',
    { timeout: 120_000 },
    async () => {
      const s = await storesOnSharedServer();
      const probe = new Redis(s.server.url);
      try {
        const store = s.open();
        const n = 10_000;
        const ids = await Promise.all(
          Array.from({ length: n }, (_, i) => {
            const l = labelsOf(i);
            return store.allocate(l.key, l.labels);
          }),
        );
        const kept = labelsOf(n + 1);
        const keptId = await store.allocate(kept.key, kept.labels);
        await store.markUnused(ids, 1000);
        await store.markUnused([keptId], 9000);

        // Record every command's run time in Redis, to see how long each script call blocks it.
        await probe.config('SET', 'slowlog-log-slower-than', '0');
        await probe.config('SET', 'slowlog-max-len', '100000');
        await probe.slowlog('RESET');
        let maxPing = 0;
        let probes = 0;
        let collecting = true;
        const probing = (async () => {
          while (collecting) {
            const t = performance.now();
            await probe.ping();
            maxPing = Math.max(maxPing, performance.now() - t);
            probes++;
            await new Promise((r) => setImmediate(r));
          }
        })();
        const t0 = performance.now();
        const freed = await store.collect(5000);
        const ms = performance.now() - t0;
        collecting = false;
        await probing;
        const entries = (await probe.slowlog('GET', 100_000)) as [
          number,
          number,
          number,
          string[],
        ][];
        await probe.config('SET', 'slowlog-log-slower-than', '10000');
        // Entry: [id, time, duration µs, [command, sha, numkeys, key…]]; the collect script
        // is the EVAL/EVALSHA with 4 keys.
        const scriptCalls = entries.filter(
          (e) => /^eval(sha)?$/i.test(String(e[3][0])) && String(e[3][2]) === '4',
        );
        const longestMs = Math.max(...scriptCalls.map((e) => e[2])) / 1000;
        console.log(
          `redis identity store: collected ${freed.length} in ${ms.toFixed(0)} ms in ` +
            `${scriptCalls.length} script calls, longest ${longestMs.toFixed(1)} ms; ` +
            `max PING ${maxPing.toFixed(1)} ms over ${probes} probes`,
        );
        assert.deepEqual(
          [...freed].sort((a, b) => a - b),
          [...ids].sort((a, b) => a - b),
        );
        assert.ok(scriptCalls.length >= Math.ceil(n / COLLECT_CHUNK), 'collect is chunked');
        assert.ok(longestMs < 100, `one collect call blocked Redis for ${longestMs} ms`);
        assert.ok(probes > 0 && maxPing < 250, `PING took ${maxPing} ms during collect`);
        const list = await store.list();
        assert.deepEqual(
          list.map((x) => x.id),
          [keptId],
        );
        // Nothing of the freed identities is left behind.
        assert.equal(await probe.hlen(`${s.prefix}bykey`), 1);
        assert.equal(await probe.hlen(`${s.prefix}keys`), 1);
        assert.equal(await probe.hlen(`${s.prefix}labels`), 1);
        assert.equal(await probe.zcard(`${s.prefix}unused`), 1);
      } finally {
        probe.disconnect();
        await s.done();
      }
    },
  );
});
