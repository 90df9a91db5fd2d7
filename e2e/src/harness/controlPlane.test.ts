import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from './controlPlane.js';
import { ControlPlaneError } from './errors.js';

/** Pids of live processes whose command line mentions `needle` (the control plane's dir). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(needle)) pids.push(Number(e));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Starts a control plane in a separate node process and resolves with its directory once
 * it is ready; `mode` says how that process then ends.
 */
function startInChild(
  mode: 'exit' | 'hang',
): Promise<{ dir: string; kill: () => void; exited: Promise<void> }> {
  const index = new URL('../index.js', import.meta.url).href;
  const script = `import { startControlPlane } from ${JSON.stringify(index)};
const cp = await startControlPlane();
console.log(cp.dir);
if (${JSON.stringify(mode)} === 'exit') process.exit(0);
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n'))
        resolve({ dir: out.trim(), kill: () => child.kill('SIGKILL'), exited });
    });
    child.once('exit', (code) => {
      if (!out.includes('\n'))
        reject(new Error(`child exited with ${String(code)} before it was ready`));
    });
  });
}

/** Waits up to 5 s for no process to mention `dir`; returns those still there. */
async function waitGone(dir: string): Promise<number[]> {
  for (let i = 0; i < 50; i++) {
    const left = processesMentioning(dir);
    if (left.length === 0) return [];
    await sleep(100);
  }
  return processesMentioning(dir);
}

describe('children never outlive the test process', () => {
  it('when it exits without stop(), or is killed with SIGKILL', async () => {
    const [exits, killed] = await Promise.all([startInChild('exit'), startInChild('hang')]);
    try {
      killed.kill();
      assert.deepEqual(await waitGone(exits.dir), []);
      await exits.exited; // its exit hook has run to the end
      assert.equal(existsSync(exits.dir), false, 'the exit hook removes the directory');
      assert.deepEqual(await waitGone(killed.dir), []);
    } finally {
      for (const d of [exits.dir, killed.dir]) rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('control plane', () => {
  let cp: ControlPlane;
  const lines: string[] = [];
  let startMs = 0;

  before(async () => {
    const t = Date.now();
    cp = await startControlPlane({ log: (l) => lines.push(l) });
    startMs = Date.now() - t;
  });
  after(() => cp?.stop());

  it('starts etcd and kube-apiserver and serves kubectl as the admin', async (t) => {
    t.diagnostic(`started in ${startMs} ms`);
    for (const l of lines) t.diagnostic(l);
    assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ns = await cp.kubectlOk(['get', 'ns', '-o', 'name']);
    assert.match(ns, /^namespace\/default$/m);
    assert.match(ns, /^namespace\/kube-system$/m);
    assert.equal((await cp.kubectlOk(['get', '--raw', '/readyz'])).trim(), 'ok');
    assert.ok(existsSync(`${cp.dir}/apiserver.log`) && existsSync(`${cp.dir}/etcd.log`));
  });

  it('authenticates the admin by client certificate in system:masters', async () => {
    const who = JSON.parse(await cp.kubectlOk(['auth', 'whoami', '-o', 'json'])) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    assert.equal(who.status.userInfo.username, 'admin');
    assert.ok(who.status.userInfo.groups.includes('system:masters'));
  });

  it('reports a failing kubectl without throwing, and kubectlOk throws with stderr', async () => {
    const r = await cp.kubectl(['get', 'configmap', 'nope', '-n', 'default']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found/);
    await assert.rejects(cp.kubectlOk(['get', 'configmap', 'nope']), (e: unknown) => {
      assert.ok(e instanceof ControlPlaneError);
      assert.equal(e.code, 'KUBECTL');
      assert.match(e.message, /not found/);
      return true;
    });
  });

  it('enforces RBAC on a service account with a TokenRequest token', async () => {
    const kc = await cp.serviceAccountKubeconfig('rbac-test', 'reader');
    const who = await cp.kubectlOk([
      '--kubeconfig',
      kc,
      'auth',
      'whoami',
      '-o',
      'jsonpath={.status.userInfo.username}',
    ]);
    assert.equal(who, 'system:serviceaccount:rbac-test:reader');
    const refused = await cp.kubectl(['--kubeconfig', kc, 'get', 'configmaps', '-n', 'rbac-test']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Forbidden|forbidden/);
    assert.match(refused.stderr, /system:serviceaccount:rbac-test:reader/);

    await cp.kubectlOk([
      'create',
      'role',
      'cm-reader',
      '-n',
      'rbac-test',
      '--verb=get,list',
      '--resource=configmaps',
    ]);
    await cp.kubectlOk([
      'create',
      'rolebinding',
      'cm-reader',
      '-n',
      'rbac-test',
      '--role=cm-reader',
      '--serviceaccount=rbac-test:reader',
    ]);
    await cp.kubectlOk(['--kubeconfig', kc, 'get', 'configmaps', '-n', 'rbac-test']);
    const stillRefused = await cp.kubectl([
      '--kubeconfig',
      kc,
      'get',
      'secrets',
      '-n',
      'rbac-test',
    ]);
    assert.notEqual(stillRefused.code, 0);
    // Asking again for an existing service account works (nothing is created twice).
    assert.ok(await cp.serviceAccountKubeconfig('rbac-test', 'reader'));
  });

  it('accepts pods although no controller creates a default service account', async () => {
    await cp.kubectlOk(['create', 'namespace', 'pods-test']);
    await cp.kubectlOk(['run', 'p', '-n', 'pods-test', '--image=none', '--restart=Never']);
    const phase = await cp.kubectlOk([
      'get',
      'pod',
      'p',
      '-n',
      'pods-test',
      '-o',
      'jsonpath={.status.phase}',
    ]);
    assert.equal(phase, 'Pending');
  });

  it('keeps every object across an apiserver restart (etcd keeps running)', async () => {
    await cp.kubectlOk(['create', 'configmap', 'survivor', '-n', 'default', '--from-literal=k=v']);
    await cp.stopApiserver();
    const down = await cp.kubectl(['get', 'ns', '--request-timeout=2s']);
    assert.notEqual(down.code, 0);
    await cp.stopApiserver(); // a second stop is a no-op
    await cp.startApiserver();
    await cp.restartApiserver(200);
    const v = await cp.kubectlOk([
      'get',
      'configmap',
      'survivor',
      '-n',
      'default',
      '-o',
      'jsonpath={.data.k}',
    ]);
    assert.equal(v, 'v');
  });

  it('stops everything, removes its directory and stays stopped', async () => {
    const before = processesMentioning(cp.dir);
    assert.equal(
      before.length,
      2,
      `expected etcd and kube-apiserver, found pids ${before.join(', ')}`,
    );
    await cp.stop();
    assert.deepEqual(processesMentioning(cp.dir), []);
    for (const pid of before) assert.throws(() => process.kill(pid, 0), /ESRCH/);
    if (process.env['PALISADE_KEEP_E2E'] !== '1') assert.equal(existsSync(cp.dir), false);
    await cp.stop(); // idempotent
    await assert.rejects(cp.kubectl(['get', 'ns']), (e: unknown) => {
      assert.ok(e instanceof ControlPlaneError);
      assert.equal(e.code, 'STOPPED');
      return true;
    });
  });
});
