import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policyEntryCount } from '@palisade/core';
import { LocalSource } from './localSource.js';

const PODS = `apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
status: {podIP: 10.0.0.2}
`;
const POLICY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]
`;

describe('local policy source', () => {
  it('reloads incrementally: identities keep their numbers, removed files drop their objects', () => {
    const dir = mkdtempSync(join(tmpdir(), 'src-'));
    try {
      writeFileSync(join(dir, 'pods.yaml'), PODS);
      const s = new LocalSource([dir]);
      assert.deepEqual(s.reload(), []);
      const ids = [...s.state.endpoints.values()].map((e) => e.identity);
      assert.equal(policyEntryCount(s.state), 0);
      writeFileSync(join(dir, 'policy.yaml'), POLICY);
      s.reload();
      assert.ok(policyEntryCount(s.state) > 0);
      assert.deepEqual(
        [...s.state.endpoints.values()].map((e) => e.identity),
        ids,
      );
      rmSync(join(dir, 'policy.yaml'));
      s.reload();
      assert.equal(policyEntryCount(s.state), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a broken file and a broken object, and applies the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'src-'));
    try {
      writeFileSync(join(dir, 'pods.yaml'), PODS);
      writeFileSync(join(dir, 'policy.yaml'), POLICY);
      writeFileSync(join(dir, 'broken.yaml'), 'kind: [unclosed');
      writeFileSync(
        join(dir, 'bad.yaml'),
        `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: x}
spec: {podSelector: {}, ingress: [{ports: [{port: 70000}]}]}
`,
      );
      const s = new LocalSource([dir]);
      const problems = s.reload();
      assert.equal(problems.length, 2, JSON.stringify(problems));
      assert.ok(problems.some((p) => p.source.includes('broken.yaml') && /YAML/.test(p.message)));
      assert.ok(problems.some((p) => p.source.includes('bad.yaml') && /port/.test(p.message)));
      assert.ok(policyEntryCount(s.state) > 0, 'the good policy applies');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
