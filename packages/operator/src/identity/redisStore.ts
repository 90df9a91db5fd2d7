/**
 * The Redis identity store, for large or churny clusters.
 *
 * Layout, under a key prefix (default `palisade:identity:`):
 * - `counter` — the last number handed out (a string integer). It only grows, so numbers
 *   are never reused, and a freed number is therefore never reused within the grace period.
 * - `bykey` — hash: label-set key → number.
 * - `keys` — hash: number → label-set key.
 * - `labels` — hash: number → the labels as JSON.
 * - `unused` — sorted set: number scored by its unused mark (ms since the epoch), so
 *   collection finds what it frees in O(log n + freed).
 *
 * Every mutation is one Lua script (EVALSHA, falling back to EVAL after a restart flushed
 * the script cache), and Redis runs scripts one at a time, so any number of operators using
 * one Redis keep the store's invariants: `bykey` and `keys` are exact inverses, `labels` and
 * `unused` only hold numbers present in `keys`, and `allocate` (which clears the mark) and
 * `collect` (which deletes only still-marked numbers) never interleave within one identity.
 *
 * Failures: while Redis is unreachable the client reconnects with capped backoff (50 ms to
 * 2 s) and never crashes the process; each call fails with `OperatorError` 'IDENTITY_STORE'
 * after at most `commandTimeout` (5 s), sooner when 3 reconnects failed first. As with any
 * remote store, a call that failed this way may still take effect when the connection comes
 * back (ioredis resends queued commands, in order): every script is safe to repeat, but a
 * caller should not assume a failed `collect` freed nothing.
 *
 * Persistence (AOF/RDB) is the Redis operator's choice; the numbering guarantees hold across
 * a restart only for writes Redis persisted. Redis Cluster is not supported (one node or a
 * Sentinel-managed primary).
 */
import { Redis, type RedisOptions } from 'ioredis';
import {
  FIRST_CLUSTER_IDENTITY,
  LAST_CLUSTER_IDENTITY,
  type Labels,
  type NamedPort,
  type SecurityLabels,
} from '@palisade/core';
import { OperatorError } from '../errors.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import type { IdentityStore, StoredIdentity } from './store.js';

/** Options of {@link RedisIdentityStore}. */
export interface RedisIdentityStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  readonly url: string;
  /** Prefix of every key the store uses (default `palisade:identity:`). */
  readonly prefix?: string;
  /** The first number handed out (default 256). */
  readonly first?: number;
  /** The last number handed out (default 2^31 − 1). */
  readonly last?: number;
  /** Where connection trouble is reported (default: nowhere). */
  readonly logger?: Logger;
  /**
   * ioredis options, overriding the store's defaults (reconnect backoff, retries, timeouts).
   * Replies are always read in ioredis' default ("legacy") shape.
   */
  readonly redis?: Omit<RedisOptions, 'replyMapping'>;
}

/** Identities freed per `collect` script call, so one call never blocks Redis for long. */
export const COLLECT_CHUNK = 1000;
/** Identities read per `list` script call. */
const LIST_CHUNK = 1000;
/** Numbers marked per `markUnused` script call. */
const MARK_CHUNK = 1000;

/** The store's defaults for ioredis, which `options.redis` overrides. */
export const REDIS_CLIENT_DEFAULTS: Omit<RedisOptions, 'replyMapping'> = {
  // 50 ms, 100 ms, 200 ms, … capped at 2 s; never gives up reconnecting.
  retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 6), 2000),
  // Queued calls fail after 3 failed reconnects instead of waiting for Redis forever.
  maxRetriesPerRequest: 3,
  // Calls already sent when the connection died are resent on reconnect; this bounds them.
  commandTimeout: 5000,
  connectTimeout: 5000,
  connectionName: 'palisade-identity',
};

// KEYS: bykey, keys, labels, unused, counter. ARGV: key, labels JSON, first, last.
// Returns the number, or -1 when the range is exhausted (nothing is changed then).
const ALLOCATE_LUA = `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if id then
  redis.call('ZREM', KEYS[4], id)
  return tonumber(id)
end
local n = tonumber(redis.call('GET', KEYS[5]) or '0')
local first = tonumber(ARGV[3])
if n < first - 1 then n = first - 1 end
n = n + 1
if n > tonumber(ARGV[4]) then return -1 end
local s = string.format('%d', n)
redis.call('SET', KEYS[5], s)
redis.call('HSET', KEYS[1], ARGV[1], s)
redis.call('HSET', KEYS[2], s, ARGV[1])
redis.call('HSET', KEYS[3], s, ARGV[2])
return n
`;

// KEYS: keys, unused. ARGV: at, numbers…  Marks existing numbers not already marked.
const MARK_LUA = `
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], 'NX', ARGV[1], ARGV[i])
  end
end
return 0
`;

// KEYS: bykey, keys, labels, unused. ARGV: before, limit.
// Deletes up to \`limit\` identities marked at or before \`before\`; returns their numbers.
const COLLECT_LUA = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return ids end
local keys = redis.call('HMGET', KEYS[2], unpack(ids))
local found, foundIds = {}, {}
for i = 1, #ids do
  if keys[i] then
    found[#found + 1] = keys[i]
    foundIds[#foundIds + 1] = ids[i]
  end
end
if #found > 0 then
  local owners = redis.call('HMGET', KEYS[1], unpack(found))
  local drop = {}
  for i = 1, #found do
    if owners[i] == foundIds[i] then drop[#drop + 1] = found[i] end
  end
  if #drop > 0 then redis.call('HDEL', KEYS[1], unpack(drop)) end
end
redis.call('HDEL', KEYS[2], unpack(ids))
redis.call('HDEL', KEYS[3], unpack(ids))
redis.call('ZREM', KEYS[4], unpack(ids))
return ids
`;

// KEYS: keys, labels, unused. ARGV: cursor, count.
// Returns {next cursor, id, key, labels JSON, mark or '', id, key, …}: one consistent chunk.
const LIST_LUA = `
local r = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[2]))
local out = {r[1]}
local kv = r[2]
for i = 1, #kv, 2 do
  local id = kv[i]
  out[#out + 1] = id
  out[#out + 1] = kv[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
  out[#out + 1] = redis.call('ZSCORE', KEYS[3], id) or ''
end
return out
`;

type ScriptArg = string | number;
/** The commands `defineCommand` adds to the client (ioredis cannot type them itself). */
interface IdentityScripts {
  palisadeIdentityAllocate(...args: ScriptArg[]): Promise<unknown>;
  palisadeIdentityMark(...args: ScriptArg[]): Promise<unknown>;
  palisadeIdentityCollect(...args: ScriptArg[]): Promise<unknown>;
  palisadeIdentityList(...args: ScriptArg[]): Promise<unknown>;
}

function inconsistent(what: string, reply: unknown): OperatorError {
  return new OperatorError(
    'IDENTITY_STORE',
    `redis identity store holds or returned something unexpected (${what}): ${JSON.stringify(reply)?.slice(0, 200) ?? String(reply)}`,
  );
}

function replyString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

function isLabels(v: unknown): v is Labels {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((x) => typeof x === 'string')
  );
}

function isNamedPort(v: unknown): v is NamedPort {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p['name'] === 'string' &&
    typeof p['port'] === 'number' &&
    (p['protocol'] === 'TCP' || p['protocol'] === 'UDP' || p['protocol'] === 'SCTP')
  );
}

/** Parses labels as `allocate` stored them; undefined when they are malformed. */
function parseLabels(json: string): SecurityLabels | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const { namespace, serviceAccount, podLabels, namespaceLabels, namedPorts } = o;
  if (
    typeof namespace !== 'string' ||
    typeof serviceAccount !== 'string' ||
    !isLabels(podLabels) ||
    !isLabels(namespaceLabels) ||
    !Array.isArray(namedPorts) ||
    !namedPorts.every(isNamedPort)
  ) {
    return undefined;
  }
  return { namespace, serviceAccount, podLabels, namespaceLabels, namedPorts };
}

function checkNumber(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new OperatorError(
      'CONFIG',
      `redis identity store: ${name} must be a positive integer, not ${v}`,
    );
  }
  return v;
}

/**
 * An {@link IdentityStore} in Redis. Safe to use from any number of processes at once (see the
 * file comment for how). Construction connects in the background; calls made before Redis
 * answers wait for it for a bounded time.
 */
export class RedisIdentityStore implements IdentityStore {
  /** {@inheritDoc IdentityStore.kind} */
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly scripts: IdentityScripts;
  private readonly log: Logger;
  private readonly first: number;
  private readonly last: number;
  private readonly k: {
    readonly counter: string;
    readonly bykey: string;
    readonly keys: string;
    readonly labels: string;
    readonly unused: string;
  };
  private closed = false;
  private healthy = true;

  constructor(options: RedisIdentityStoreOptions) {
    const prefix = options.prefix ?? 'palisade:identity:';
    this.first = checkNumber('first', options.first ?? FIRST_CLUSTER_IDENTITY);
    this.last = checkNumber('last', options.last ?? LAST_CLUSTER_IDENTITY);
    if (this.last < this.first) {
      throw new OperatorError(
        'CONFIG',
        `redis identity store: last (${this.last}) is below first (${this.first})`,
      );
    }
    this.k = {
      counter: `${prefix}counter`,
      bykey: `${prefix}bykey`,
      keys: `${prefix}keys`,
      labels: `${prefix}labels`,
      unused: `${prefix}unused`,
    };
    this.log = (options.logger ?? silentLogger).with({ store: 'redis', prefix });
    this.redis = new Redis(options.url, { ...REDIS_CLIENT_DEFAULTS, ...options.redis });
    this.redis.defineCommand('palisadeIdentityAllocate', { numberOfKeys: 5, lua: ALLOCATE_LUA });
    this.redis.defineCommand('palisadeIdentityMark', { numberOfKeys: 2, lua: MARK_LUA });
    this.redis.defineCommand('palisadeIdentityCollect', { numberOfKeys: 4, lua: COLLECT_LUA });
    this.redis.defineCommand('palisadeIdentityList', { numberOfKeys: 3, lua: LIST_LUA });
    // defineCommand added these methods at run time; this is their declared shape.
    this.scripts = this.redis as unknown as IdentityScripts;
    // Without an 'error' listener a connection error would be thrown as an uncaught
    // 'error' event and end the process.
    this.redis.on('error', (err: unknown) => {
      if (this.healthy) {
        this.healthy = false;
        this.log.warn('redis connection failed; reconnecting', { error: errorMessage(err) });
      } else {
        this.log.debug('redis connection still failing', { error: errorMessage(err) });
      }
    });
    this.redis.on('ready', () => {
      if (!this.healthy) {
        this.healthy = true;
        this.log.info('redis connection restored');
      }
    });
  }

  /** {@inheritDoc IdentityStore.allocate} */
  async allocate(key: string, labels: SecurityLabels): Promise<number> {
    if (key === '') throw new OperatorError('IDENTITY_STORE', 'cannot allocate an empty key');
    const k = this.k;
    const reply = await this.call('allocate', () =>
      this.scripts.palisadeIdentityAllocate(
        k.bykey,
        k.keys,
        k.labels,
        k.unused,
        k.counter,
        key,
        JSON.stringify(labels),
        this.first,
        this.last,
      ),
    );
    if (reply === -1) {
      throw new OperatorError(
        'IDENTITY_EXHAUSTED',
        `no identity number left between ${this.first} and ${this.last} (numbers are never reused)`,
      );
    }
    if (typeof reply !== 'number' || !Number.isSafeInteger(reply) || reply < 1) {
      throw inconsistent(`allocate of ${key}`, reply);
    }
    return reply;
  }

  /**
   * {@inheritDoc IdentityStore.markUnused}
   * Numbers not in the store (or not integers) are ignored.
   */
  async markUnused(ids: readonly number[], at: number): Promise<void> {
    if (!Number.isFinite(at)) {
      throw new OperatorError('IDENTITY_STORE', `unused mark must be a finite time, not ${at}`);
    }
    const valid = ids.filter((id) => Number.isSafeInteger(id)).map(String);
    const k = this.k;
    for (let i = 0; i < valid.length; i += MARK_CHUNK) {
      const chunk = valid.slice(i, i + MARK_CHUNK);
      await this.call('markUnused', () =>
        this.scripts.palisadeIdentityMark(k.keys, k.unused, String(at), ...chunk),
      );
    }
  }

  /** {@inheritDoc IdentityStore.list} */
  async list(): Promise<StoredIdentity[]> {
    const k = this.k;
    const byId = new Map<number, StoredIdentity>();
    let cursor = '0';
    do {
      const reply = await this.call('list', () =>
        this.scripts.palisadeIdentityList(k.keys, k.labels, k.unused, cursor, LIST_CHUNK),
      );
      if (!Array.isArray(reply) || (reply.length - 1) % 4 !== 0) throw inconsistent('list', reply);
      const next = replyString(reply[0]);
      if (next === undefined) throw inconsistent('list cursor', reply[0]);
      cursor = next;
      for (let i = 1; i < reply.length; i += 4) {
        const idText = replyString(reply[i]);
        const key = replyString(reply[i + 1]);
        const labelsJson = replyString(reply[i + 2]);
        const mark = replyString(reply[i + 3]);
        const id = Number(idText);
        const labels = labelsJson === undefined ? undefined : parseLabels(labelsJson);
        if (!Number.isSafeInteger(id) || key === undefined || mark === undefined || !labels) {
          throw inconsistent(`identity ${idText ?? '?'}`, reply.slice(i, i + 4));
        }
        const unusedSince = mark === '' ? undefined : Number(mark);
        byId.set(
          id,
          unusedSince === undefined ? { id, key, labels } : { id, key, labels, unusedSince },
        );
      }
    } while (cursor !== '0');
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }

  /** {@inheritDoc IdentityStore.collect} */
  async collect(before: number): Promise<number[]> {
    if (Number.isNaN(before)) {
      throw new OperatorError('IDENTITY_STORE', 'collect cut-off must be a time, not NaN');
    }
    const k = this.k;
    const cutoff = before === Infinity ? '+inf' : before === -Infinity ? '-inf' : String(before);
    const freed: number[] = [];
    for (;;) {
      const reply = await this.call('collect', () =>
        this.scripts.palisadeIdentityCollect(
          k.bykey,
          k.keys,
          k.labels,
          k.unused,
          cutoff,
          COLLECT_CHUNK,
        ),
      );
      if (!Array.isArray(reply)) throw inconsistent('collect', reply);
      for (const v of reply) {
        const id = Number(replyString(v));
        if (!Number.isSafeInteger(id)) throw inconsistent('collected number', v);
        freed.push(id);
      }
      if (reply.length < COLLECT_CHUNK) break;
    }
    if (freed.length > 0) this.log.debug('collected identities', { count: freed.length });
    return freed;
  }

  /** {@inheritDoc IdentityStore.close} */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.redis.status === 'ready') {
      try {
        await this.redis.quit();
        return;
      } catch (err) {
        this.log.debug('redis quit failed; disconnecting', { error: errorMessage(err) });
      }
    }
    this.redis.disconnect();
  }

  private async call(op: string, run: () => Promise<unknown>): Promise<unknown> {
    if (this.closed)
      throw new OperatorError('IDENTITY_STORE', `redis identity store: ${op} after close`);
    try {
      return await run();
    } catch (err) {
      throw new OperatorError(
        'IDENTITY_STORE',
        `redis identity store: ${op} failed: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
}
