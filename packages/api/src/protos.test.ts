/**
 * The wire contract: the generated types are current with the .proto files, conversions
 * round-trip, concatenated pieces decode as their union, and bad fields are refused by
 * name.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { applyDelta, canonicalState, emptyState, type CompiledDelta } from '@palisade/core';
import {
  decodeOperatorMessage,
  deltaFrame,
  encodeChange,
  encodeNodeMessage,
  decodeNodeMessage,
  snapshotChunkFrame,
  syncedFrame,
} from './codec.js';
import { emptyDelta, fromWireChange, toWireChange } from './convert.js';
import { WireError } from './errors.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p).map((f) => join(n, f)) : [n];
  });
}

const DELTA: CompiledDelta = {
  identities: {
    upsert: [
      { id: 256, labels: ['k8s:app=web', 'ns:name=prod'] },
      { id: 2 ** 31 + 5, labels: ['reserved:world', 'cidr:10.0.0.0/8'] },
    ],
    remove: [300],
  },
  ipcache: {
    upsert: [
      { prefix: '10.1.0.5/32', identity: 256 },
      { prefix: 'fd00::5/128', identity: 256 },
      { prefix: '10.0.0.0/8', identity: 2 ** 31 + 5 },
    ],
    remove: ['10.9.9.9/32'],
  },
  endpoints: {
    upsert: [{ pod: 'prod/web-1', identity: 256, ips: ['10.1.0.5', 'fd00::5'], node: 'n1' }],
    remove: ['prod/old'],
  },
  isolation: { upsert: [{ identity: 256, ingress: true, egress: false }], remove: [301] },
  policy: {
    upsert: [
      {
        key: {
          subject: 256,
          direction: 'ingress',
          remote: 0,
          protocol: 6,
          port: 80,
          prefixLen: 16,
        },
        value: { verdict: 'allow', rules: ['NetworkPolicy/prod/web:spec.ingress[0]'] },
      },
      {
        key: {
          subject: 256,
          direction: 'egress',
          remote: 2 ** 31 + 5,
          protocol: 0,
          port: 0,
          prefixLen: 0,
        },
        value: {
          verdict: 'redirect',
          rules: ['PalisadeNetworkPolicy/prod/l7:spec.egress[0]'],
          l7: [
            {
              method: 'GET',
              path: '/api/.*',
              headers: [{ name: 'x-a' }, { name: 'x-b', value: '1' }],
            },
          ],
        },
      },
    ],
    remove: [
      { subject: 256, direction: 'egress', remote: 7, protocol: 17, port: 53, prefixLen: 16 },
    ],
  },
};

function replay(delta: CompiledDelta): string {
  const s = emptyState();
  applyDelta(s, delta);
  return canonicalState(s);
}

describe('wire contract', () => {
  it('src/gen is what scripts/gen.sh makes from protos/ (run it after editing a .proto)', () => {
    const out = mkdtempSync('/dev/shm/palisade-gen-');
    try {
      execFileSync('bash', [join(PKG, 'scripts/gen.sh'), out], { stdio: 'pipe' });
      const want = files(out).sort();
      const have = files(join(PKG, 'src/gen')).sort();
      assert.deepEqual(have, want);
      for (const f of want)
        assert.equal(
          readFileSync(join(PKG, 'src/gen', f), 'utf8'),
          readFileSync(join(out, f), 'utf8'),
          `src/gen/${f} is stale`,
        );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('a delta survives toWire → encode → frame → decode → fromWire', () => {
    const frame = deltaFrame('e1', 7, 3, [encodeChange(toWireChange(DELTA))]);
    const m = decodeOperatorMessage(frame);
    assert.equal(m.body, 'delta');
    assert.equal(m.delta?.epoch, 'e1');
    assert.equal(m.delta?.revision, 7);
    assert.equal(m.delta?.previousRevision, 3);
    assert.equal(replay(fromWireChange(m.delta?.change)), replay(DELTA));
    assert.deepEqual(fromWireChange(m.delta?.change).policy, DELTA.policy);
  });

  it('concatenated pieces decode as the union of their changes', () => {
    const a: CompiledDelta = { ...emptyDelta(), policy: DELTA.policy };
    const b: CompiledDelta = {
      ...emptyDelta(),
      ipcache: DELTA.ipcache,
      identities: DELTA.identities,
    };
    const c: CompiledDelta = {
      ...emptyDelta(),
      endpoints: DELTA.endpoints,
      isolation: DELTA.isolation,
    };
    const frame = snapshotChunkFrame(
      'e',
      9,
      0,
      [a, b, c].map((d) => encodeChange(toWireChange(d))),
    );
    const m = decodeOperatorMessage(frame);
    assert.equal(m.body, 'snapshot');
    assert.equal(m.snapshot?.index, 0);
    assert.equal(replay(fromWireChange(m.snapshot?.state)), replay(DELTA));
    const s = decodeOperatorMessage(syncedFrame('e', 9, 1));
    assert.deepEqual(s.synced, { epoch: 'e', revision: 9, chunks: 1 });
  });

  it('node messages round-trip', () => {
    const hello = { hello: { node: 'n1', epoch: 'e', revision: 12, capabilities: ['l7'] } };
    assert.deepEqual(decodeNodeMessage(encodeNodeMessage(hello)).hello, hello.hello);
    assert.equal(
      decodeNodeMessage(encodeNodeMessage({ ack: { revision: 5, appliedAtUnixMs: 1 } })).ack
        ?.revision,
      5,
    );
  });

  it('refuses malformed bytes and bad fields, naming the field', () => {
    assert.throws(() => decodeOperatorMessage(Buffer.from([0xff, 0xff, 0xff])), WireError);
    assert.throws(() => decodeOperatorMessage(Buffer.alloc(0)), /no body/);
    const bad = (change: object, re: RegExp): void => {
      const m = decodeOperatorMessage(
        deltaFrame('e', 1, 0, [encodeChange({ ...toWireChange(emptyDelta()), ...change })]),
      );
      assert.throws(() => fromWireChange(m.delta?.change), re);
    };
    bad({ ipcache: [{ prefix: '10.0.0.300/32', identity: 5 }] }, /ipcache\[0\]\.prefix/);
    bad({ ipcache: [{ prefix: '10.0.0.1/32', identity: 0 }] }, /ipcache\[0\]\.identity/);
    const key = { subject: 256, direction: 1, remote: 0, protocol: 6, port: 80, prefixLen: 16 };
    bad(
      { policy: [{ key: { ...key, direction: 0 }, verdict: 1, rules: [] }] },
      /policy\[0\]\.key\.direction/,
    );
    bad(
      { policy: [{ key: { ...key, port: 70000 }, verdict: 1, rules: [] }] },
      /policy\[0\]\.key\.port/,
    );
    bad(
      { policy: [{ key: { ...key, subject: 0 }, verdict: 1, rules: [] }] },
      /policy\[0\]\.key\.subject/,
    );
    bad({ policy: [{ key, verdict: 0, rules: [] }] }, /policy\[0\]\.verdict/);
    bad({ policy: [{ key: null, verdict: 1, rules: [] }] }, /policy\[0\]\.key: missing/);
    bad({ endpoints: [{ pod: 'nope', identity: 256, ips: [], node: '' }] }, /endpoints\[0\]\.pod/);
  });
});
