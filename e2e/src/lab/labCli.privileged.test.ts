/**
 * `palisade lab` as a user runs it, each command a separate process: `up` (with the Redis
 * identity store) prints `export KUBECONFIG=…` and that kubeconfig works with kubectl;
 * `status` reports every part healthy; `probe -o json` prints the `policy simulate` shape
 * and `probe --wait` agrees with the simulator after a policy is applied; `exec` runs in the
 * pod and passes its exit status on; a killed shim is started again by the lab; `down`
 * leaves no namespace, link, pin, process, control-plane directory or lab directory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { privilegedSkipReason } from '@palisade/shim/testing';
import { kubeBinDir, REPO_ROOT } from '../harness/binaries.js';
import { alive, readState, type LabState } from './labState.js';
import { slotLinks, slotNamespaces } from './labNetwork.js';

const CLI = join(REPO_ROOT, 'packages/cli/dist/main.js');
const skip = privilegedSkipReason();

function palisade(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('palisade lab (the commands, as separate processes)', { skip }, () => {
  let dir: string;
  let kubectlPath = '';
  let state: LabState;
  /** kubectl with the kubeconfig `lab up` printed; `input` goes to its stdin. */
  const kubectlIn = (
    args: string[],
    input?: string,
  ): { code: number; out: string; err: string } => {
    const r = spawnSync(kubectlPath, args, {
      encoding: 'utf8',
      ...(input !== undefined ? { input } : {}),
      env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') },
    });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  };
  const kubectl = (...a: string[]): { code: number; out: string; err: string } => kubectlIn(a);
  const kubectlApply = (yaml: string): { code: number; out: string; err: string } =>
    kubectlIn(['apply', '-f', '-'], yaml);

  before(async () => {
    dir = join(mkdtempSync('/dev/shm/palisade-labcli-'), 'lab');
    kubectlPath = join(await kubeBinDir(), 'kubectl');
  });
  after(() => {
    if (existsSync(join(dir, 'state.json'))) palisade('lab', 'down', '--dir', dir);
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('up prints the kubeconfig export, and kubectl works with it', () => {
    const r = palisade('lab', 'up', '--nodes', '2', '--identity-store', 'redis', '--dir', dir);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `export KUBECONFIG=${join(dir, 'kubeconfig')}\n`);
    assert.match(r.err, /lab: ready in/);
    state = readState(dir) as LabState;
    assert.equal(state.identityStore, 'redis');
    const nodes = kubectl('get', 'nodes', '-o', 'name');
    assert.equal(nodes.code, 0, nodes.err);
    assert.deepEqual(nodes.out.trim().split('\n'), ['node/node-1', 'node/node-2']);
    const again = palisade('lab', 'up', '--dir', dir);
    assert.equal(again.code, 0);
    assert.match(again.err, /already runs/);
  });

  it('status shows every part healthy', () => {
    const r = palisade('lab', 'status', '--dir', dir);
    assert.equal(r.code, 0, r.out + r.err);
    for (const part of ['lab process', 'kube-apiserver', 'operator', 'shim node-1', 'shim node-2'])
      assert.match(r.out, new RegExp(`^${part}\\s+ok\\s`, 'm'));
    assert.match(r.out, /identities in redis/);
  });

  it('probe prints the policy simulate JSON, and --wait agrees with the simulator', () => {
    const app = `apiVersion: v1
kind: Namespace
metadata: {name: cli}
---
${['a', 'b', 'c']
  .map(
    (p, i) => `apiVersion: v1
kind: Pod
metadata: {name: ${p}, namespace: cli, labels: {app: ${p}}}
spec:
  nodeSelector: {kubernetes.io/hostname: node-${(i % 2) + 1}}
  containers: [{name: c, image: none, ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]}]
`,
  )
  .join('---\n')}`;
    const write = kubectlApply(app);
    assert.equal(write.code, 0, write.err);
    const ready = kubectl(
      'wait',
      '-n',
      'cli',
      '--for=condition=Ready',
      'pod',
      '--all',
      '--timeout=60s',
    );
    assert.equal(ready.code, 0, ready.err);
    const open = palisade('lab', 'probe', '--dir', dir, '--port', '80/TCP', '--wait', '-o', 'json');
    assert.equal(open.code, 0, open.err);
    const results = (JSON.parse(open.out) as { results: Record<string, unknown>[] }).results;
    assert.equal(results.length, 6);
    for (const r of results) {
      assert.deepEqual(Object.keys(r).slice(0, 5), ['from', 'to', 'port', 'protocol', 'verdict']);
      assert.equal(r['verdict'], 'allow');
    }
    const deny = kubectlApply(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-a-to-b, namespace: cli}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}], ports: [{port: 80}]}]
`);
    assert.equal(deny.code, 0, deny.err);
    const after = palisade(
      'lab',
      'probe',
      '--dir',
      dir,
      '--port',
      '80/TCP',
      '--port',
      '53/UDP',
      '--wait',
      '-o',
      'json',
    );
    assert.equal(after.code, 0, after.err);
    const v = new Map(
      (
        JSON.parse(after.out) as {
          results: { from: string; to: string; port: number; verdict: string }[];
        }
      ).results.map((r) => [`${r.from}>${r.to}:${r.port}`, r.verdict]),
    );
    assert.equal(v.get('cli/a>cli/b:80'), 'allow');
    assert.equal(v.get('cli/c>cli/b:80'), 'deny');
    assert.equal(v.get('cli/a>cli/b:53'), 'deny');
    assert.equal(v.get('cli/b>cli/c:80'), 'allow');
    assert.match(after.err, /agrees with `policy simulate` on all 12 flows/);
  });

  it('exec runs in the pod and passes its exit status on', () => {
    const r = palisade(
      'lab',
      'exec',
      'cli/a',
      '--dir',
      dir,
      '--',
      'ip',
      '-br',
      '-4',
      'addr',
      'show',
      'eth0',
    );
    assert.equal(r.code, 0, r.err);
    const ip = kubectl('get', 'pod', '-n', 'cli', 'a', '-o', 'jsonpath={.status.podIP}').out;
    assert.ok(ip && r.out.includes(`${ip}/`), `${r.out} should show ${ip}`);
    assert.equal(
      palisade('lab', 'exec', 'cli/a', '--dir', dir, '--', 'sh', '-c', 'exit 3').code,
      3,
    );
    const missing = palisade('lab', 'exec', 'cli/nope', '--dir', dir, '--', 'true');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no running pod cli\/nope/);
  });

  it('a killed shim is started again and catches up', async () => {
    const s = readState(dir) as LabState;
    const pid = s.nodes[0]?.shimPid as number;
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const cur = readState(dir) as LabState;
      if (cur.nodes[0]?.shimPid !== pid && palisade('lab', 'status', '--dir', dir).code === 0)
        break;
      assert.ok(Date.now() < deadline, 'the shim was not restarted within 60 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  it('down leaves nothing behind', () => {
    const s = readState(dir) as LabState;
    const r = palisade('lab', 'down', '--dir', dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /no namespace, link, pin, process or file of it is left/);
    assert.deepEqual(slotNamespaces(s.slot), []);
    assert.deepEqual(slotLinks(s.slot), []);
    assert.equal(existsSync(s.bpffs), false);
    assert.equal(existsSync(s.controlPlaneDir), false);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(
      [s.pid, ...s.pids].filter((p) => alive(p)),
      [],
    );
    const none = palisade('lab', 'status', '--dir', dir);
    assert.equal(none.code, 1);
    assert.match(none.err, /no lab in/);
  });
});
