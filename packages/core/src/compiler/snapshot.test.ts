import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalState } from './compiledState.js';
import { fromSnapshot, toSnapshot } from './snapshot.js';
import { compile } from '../testing/compile.js';

describe('compiled snapshots', () => {
  it('round-trip through JSON to an equal state', () => {
    const { engine } = compile([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { t: 'x' } } },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'a', namespace: 'x', labels: { app: 'a' } },
        status: { podIP: '10.0.0.1' },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'p', namespace: 'x' },
        spec: {
          podSelector: {},
          ingress: [
            {
              from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }],
              ports: [{ port: 80, endPort: 90 }],
            },
          ],
        },
      },
    ]);
    const s = engine.compiled;
    const back = fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(s))));
    assert.equal(canonicalState(back), canonicalState(s));
    assert.ok(back.policy.size > 0 && back.ipcache.size > 0);
  });

  it('names the field of a malformed snapshot', () => {
    assert.throws(() => fromSnapshot({ identities: [] }), /ipcache must be a list/);
    assert.throws(() => fromSnapshot(null), /identities must be a list/);
  });
});
