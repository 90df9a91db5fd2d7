/**
 * `palisade node flows|status` against a stand-in shim API on a unix socket (the real
 * shim is exercised by the shim's privileged tests; here: rendering, flags, errors).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FlowRecord } from '@palisade/shim';
import { run } from '../main.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => (out += t), err: (l) => (err += `${l}\n`) });
  return { code, out, err };
}

const FLOW: FlowRecord = {
  time: '2026-11-25T10:00:00.123Z',
  node: 'n1',
  endpoint: 'shop/api',
  direction: 'ingress',
  verdict: 'deny',
  reason: 'policy-deny',
  protocol: 'TCP',
  src: '10.1.0.7',
  dst: '10.1.0.5',
  srcPort: 40000,
  dstPort: 8080,
  remotePod: 'storage/backup',
  subjectIdentity: 300,
  remoteIdentity: 301,
  rules: ['PalisadeNetworkPolicy/shop/no-storage:ingressDeny[0]'],
};

describe('palisade node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-node-'));
  const socket = join(dir, 'shim.sock');
  const seen: string[] = [];
  let server: Server;

  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/v1/flows')) res.end(JSON.stringify({ flows: [FLOW] }));
      else if (req.url === '/v1/status')
        res.end(
          JSON.stringify({
            node: 'n1',
            pinDir: '/sys/fs/bpf/palisade/n1',
            endpoints: 2,
            maps: { pal_policy: { entries: 12, capacity: 262144 } },
            policyEpoch: 7,
            counters: { drop_policy_deny: 3 },
            flowsSeen: 9,
            lastError: { code: 'MAP_OVERFLOW', message: 'too big', time: 'now' },
          }),
        );
      else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flows: a table naming pods, verdict, reason and rule, with the filters passed on', async () => {
    const r = await cli('node', 'flows', '--socket', socket, '--verdict', 'deny', '--limit', '5');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^TIME\s+ENDPOINT\s+DIR\s+VERDICT\s+REASON/);
    assert.match(
      r.out,
      /shop\/api\s+ingress\s+deny\s+policy-deny\s+TCP\s+storage\/backup:40000\s+shop\/api:8080\s+PalisadeNetworkPolicy\/shop\/no-storage:ingressDeny\[0\]/,
    );
    assert.equal(seen.at(-1), '/v1/flows?limit=5&verdict=deny');
  });

  it('flows -o json prints the records as the shim gives them', async () => {
    const r = await cli('node', 'flows', '--socket', socket, '-o', 'json');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out), { flows: [FLOW] });
  });

  it('status: maps, counters and the last error', async () => {
    const r = await cli('node', 'status', '--socket', socket);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /node n1: 2 endpoints/);
    assert.match(r.out, /pal_policy\s+12\s+262144/);
    assert.match(r.out, /drop_policy_deny\s+3/);
    assert.match(r.out, /last error: MAP_OVERFLOW: too big/);
  });

  it('a shim out of reach is exit status 1 with the socket named', async () => {
    const r = await cli('node', 'flows', '--socket', join(dir, 'nobody.sock'));
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach the shim at .*nobody\.sock/);
  });

  it('bad flags are usage errors (exit 2)', async () => {
    assert.equal((await cli('node', 'flows', '--socket', socket, '--verdict', 'maybe')).code, 2);
    assert.equal((await cli('node', 'flows', '--socket', socket, '--limit', '0')).code, 2);
    assert.equal((await cli('node', 'flows', '--socket', socket, '-o', 'yaml')).code, 2);
    assert.equal((await cli('node', 'nope', '--socket', socket)).code, 2);
  });
});
