/**
 * The CLI contract (design brief §6): output shapes, exit statuses, error messages.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { run } from './main.js';
import { FIXTURES } from './testing/fixtures.js';

function cli(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = run(argv, { out: (t) => (out += t), err: (l) => (err += `${l}\n`) });
  if (typeof code !== 'number') throw new Error(`palisade ${argv.join(' ')} is asynchronous`);
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'palisade-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const model = `${FIXTURES}upstream/model.yaml`;
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const denyX = write(
  'deny-x.yaml',
  `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: palisade.dev/v1alpha1
kind: PalisadeNetworkPolicy
metadata: {name: no-yb-to-zc, namespace: z}
spec:
  endpointSelector: {matchLabels: {pod: c}}
  ingressDeny:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}, endpointSelector: {matchLabels: {pod: b}}}]
`,
);

describe('palisade policy simulate', () => {
  it('prints the JSON contract: every ordered pair of distinct pods, every port', () => {
    const r = cli(
      'policy',
      'simulate',
      '-f',
      model,
      '-f',
      denyX,
      '--port',
      '80/TCP',
      '--port',
      '81/UDP',
      '-o',
      'json',
    );
    assert.equal(r.code, 0, r.err);
    const { results } = JSON.parse(r.out) as {
      results: { from: string; to: string; port: number; protocol: string; verdict: string }[];
    };
    assert.equal(results.length, 9 * 8 * 2);
    assert.deepEqual(Object.keys(results[0]!).slice(0, 5), [
      'from',
      'to',
      'port',
      'protocol',
      'verdict',
    ]);
    const v = (from: string, to: string, port = 80) =>
      results.find((x) => x.from === from && x.to === to && x.port === port)?.verdict;
    assert.equal(v('y/a', 'x/a'), 'deny');
    assert.equal(v('x/a', 'y/a'), 'allow');
    assert.equal(v('y/b', 'z/c'), 'deny');
    assert.equal(v('y/a', 'z/c'), 'allow');
    assert.ok(results.every((x) => x.from !== x.to));
  });

  it('prints the matrix table', () => {
    const r = cli('policy', 'simulate', '-f', model, '-f', denyX, '--port', '80/TCP');
    assert.equal(r.code, 0);
    const lines = r.out.split('\n');
    assert.equal(lines[0], '80/TCP:');
    assert.match(lines[2] ?? '', /^x\/a\s+-\s+X\s+X\s+\.\s/);
  });

  it('refuses a bad policy with object and field, exits 1, and leaves the other verdicts unchanged', () => {
    const bad = write(
      'bad.yaml',
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: y}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/40}}]}]
`,
    );
    const good = cli(
      'policy',
      'simulate',
      '-f',
      model,
      '-f',
      denyX,
      '--port',
      '80/TCP',
      '-o',
      'json',
    );
    const withBad = cli(
      'policy',
      'simulate',
      '-f',
      model,
      '-f',
      denyX,
      '-f',
      bad,
      '--port',
      '80/TCP',
      '-o',
      'json',
    );
    assert.equal(withBad.code, 1);
    assert.match(
      withBad.err,
      /NetworkPolicy y\/broken: spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: "10\.0\.0\.0\/40" is not a valid CIDR/,
    );
    assert.equal(withBad.out, good.out);
  });

  it('exits 2 with file and line on unreadable YAML, and on a missing file', () => {
    const broken = write('broken.yaml', 'kind: Pod\nmetadata: {name: a\n  labels: [\n');
    const r = cli('policy', 'simulate', '-f', broken);
    assert.equal(r.code, 2);
    assert.match(r.err, /broken\.yaml:\d+: not valid YAML/);
    assert.equal(r.out, '');
    const m = cli('policy', 'simulate', '-f', join(dir, 'nope.yaml'));
    assert.equal(m.code, 2);
    assert.match(m.err, /nope\.yaml: no such file or directory/);
  });

  it('exits 2 on usage errors', () => {
    assert.equal(cli('policy', 'simulate', '-f', model, '--port', '80/XYZ').code, 2);
    assert.equal(cli('policy', 'simulate', '-f', model, '--frob').code, 2);
    assert.equal(cli('policy', 'simulate').code, 2);
    assert.equal(cli('nonsense').code, 2);
  });

  it('reads directories recursively and defaults to the declared container ports', () => {
    const r = cli('policy', 'simulate', '-f', `${FIXTURES}upstream/model.yaml`, '-o', 'json');
    const { results } = JSON.parse(r.out) as { results: { port: number; protocol: string }[] };
    assert.deepEqual([...new Set(results.map((x) => `${x.port}/${x.protocol}`))].sort(), [
      '80/SCTP',
      '80/TCP',
      '80/UDP',
      '81/SCTP',
      '81/TCP',
      '81/UDP',
    ]);
  });
});

describe('palisade policy explain', () => {
  it('names the policy and rule that decided each direction', () => {
    const r = cli(
      'policy',
      'explain',
      '-f',
      model,
      '-f',
      denyX,
      '--from',
      'y/b',
      '--to',
      'z/c',
      '--port',
      '80/TCP',
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^y\/b → z\/c 80\/TCP: DENY/);
    assert.match(r.out, /egress of y\/b .*: allow — no policy selects y\/b for egress/);
    assert.match(
      r.out,
      /ingress of z\/c .*: deny — denied by PalisadeNetworkPolicy z\/no-yb-to-zc spec\.ingressDeny\[0\]/,
    );
    const d = cli(
      'policy',
      'explain',
      '-f',
      model,
      '-f',
      denyX,
      '--from',
      'y/a',
      '--to',
      'x/b',
      '--port',
      '80/TCP',
      '-o',
      'json',
    );
    const ex = JSON.parse(d.out) as {
      verdict: string;
      sides: { reason: string; isolatedBy: string[] }[];
    };
    assert.equal(ex.verdict, 'deny');
    assert.equal(ex.sides[1]?.reason, 'default-deny');
    assert.deepEqual(ex.sides[1]?.isolatedBy, ['NetworkPolicy x/deny-ingress']);
  });

  it('explains an allow by rule', () => {
    const allow = write(
      'allow.yaml',
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-y, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]
`,
    );
    const r = cli(
      'policy',
      'explain',
      '-f',
      model,
      '-f',
      denyX,
      '-f',
      allow,
      '--from',
      'y/a',
      '--to',
      'x/b',
      '--port',
      '80/TCP',
    );
    assert.match(r.out, /ALLOW/);
    assert.match(r.out, /allowed by NetworkPolicy x\/allow-from-y spec\.ingress\[0\]/);
  });

  it('refuses unknown pods', () => {
    const r = cli(
      'policy',
      'explain',
      '-f',
      model,
      '--from',
      'q/q',
      '--to',
      'x/a',
      '--port',
      '80/TCP',
    );
    assert.equal(r.code, 2);
    assert.match(r.err, /--from q\/q: no such pod/);
  });
});

describe('palisade lab', () => {
  const lab = async (...argv: string[]): Promise<{ code: number; err: string }> => {
    let err = '';
    const code = await run(['lab', ...argv], {
      out: () => undefined,
      err: (l) => (err += `${l}\n`),
    });
    return { code, err };
  };
  it('refuses bad input with a usage error before starting anything', async () => {
    const root = process.getuid?.() === 0;
    const bad = await lab('up', '--nodes', '0', '--dir', join(dir, 'never'));
    assert.equal(bad.code, 2);
    assert.match(bad.err, root ? /--nodes must be an integer in \[1, 50\], got 0/ : /needs root/);
    const unknown = await lab('bogus');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, root ? /unknown lab command "bogus"/ : /needs root/);
  });
  it('says there is no lab instead of failing obscurely', async () => {
    if (process.getuid?.() !== 0) return;
    const r = await lab('status', '--dir', join(dir, 'none'));
    assert.equal(r.code, 1);
    assert.match(r.err, /no lab in .*none: start one with `pnpm -s palisade lab up`/);
  });
});
