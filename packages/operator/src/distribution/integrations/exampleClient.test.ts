import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestPki, type TestPki } from './testPki.js';
import {
  FakeOperator,
  FORBIDDEN_TOKEN,
  GOOD_TOKEN,
  startTestServer,
  type TestServer,
} from './testServer.js';
import { scenarioEngine } from './testScenario.js';

const SCRIPT = fileURLToPath(new URL('./exampleClient.js', import.meta.url));

/** Runs the example client; resolves with its exit code and output (never rejects on exit 1). */
function example(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [SCRIPT, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

describe('the example client, as a process', () => {
  let pki: TestPki;
  let srv: TestServer;
  let base: string[];
  before(async () => {
    pki = makeTestPki();
    srv = await startTestServer(new FakeOperator(scenarioEngine()), pki);
    writeFileSync(join(pki.dir, 'token'), `${GOOD_TOKEN}\n`);
    writeFileSync(join(pki.dir, 'forbidden'), FORBIDDEN_TOKEN);
    base = ['--address', srv.address, '--ca-file', pki.caFile, '--server-name', 'localhost'];
  });
  after(async () => {
    await srv.stop();
    pki.cleanup();
  });

  it('lists identities, with a label filter', async () => {
    const r = await example([
      ...base,
      '--token-file',
      join(pki.dir, 'token'),
      'list-identities',
      'k8s:app=web',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as {
      identities: { id: number; labels: string[] }[];
      revision: number;
    };
    assert.equal(res.identities.length, 1);
    assert.ok(res.identities[0]!.labels.includes('k8s:app=web'));
  });

  it('simulates a flow', async () => {
    const r = await example([
      ...base,
      '--token-file',
      join(pki.dir, 'token'),
      'simulate',
      'dev/tool',
      'prod/web',
      'TCP',
      '80',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { verdict: string; ingressRules: string[] };
    assert.equal(res.verdict, 'deny');
    assert.deepEqual(res.ingressRules, [
      'PalisadeNetworkPolicy/prod/web-ingress:spec.ingressDeny[0]',
    ]);
  });

  it('reports a refusal and exits 1', async () => {
    const r = await example([
      ...base,
      '--token-file',
      join(pki.dir, 'forbidden'),
      'list-identities',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: PERMISSION_DENIED: .*may not list securityidentities/);
    const bad = await example([
      ...base,
      '--token-file',
      join(pki.dir, 'token'),
      'simulate',
      'dev/tool',
      'prod/web',
      'TCP',
      '0',
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: INVALID_ARGUMENT: /);
  });

  it('prints the usage when the command line is wrong', async () => {
    const r = await example(['list-identities']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /usage: exampleClient --address/);
  });
});
