/**
 * The `palisade-operator` binary as people run it: flags, structured logs, the health and
 * metrics endpoint, leadership, and a graceful SIGTERM that releases the lease.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { Resources, type KubeClient, type Lease } from '@palisade/operator';
import { REPO_ROOT } from '../harness/binaries.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { adminClient, ensureNamespace, OPERATOR_NS, waitFor } from './testCluster.js';

const MAIN = join(REPO_ROOT, 'packages/operator/dist/main.js');

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

describe('palisade-operator process', () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let child: ChildProcess | undefined;

  before(async () => {
    cp = await startControlPlane();
    await cp.applyCrds();
    client = adminClient(cp);
    await ensureNamespace(client, OPERATOR_NS);
  });

  after(async () => {
    child?.kill('SIGKILL');
    client?.close();
    await cp?.stop();
  });

  it('refuses bad flags with exit code 2 and a message naming the flag', () => {
    const r = spawnSync(process.execPath, [MAIN, '--identity-store', 'zookeeper'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--identity-store: "zookeeper" is not crd or redis/);
    const h = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--identity-grace DURATION/);
  });

  it('serves health and metrics, leads, and on SIGTERM releases the lease and exits 0', async () => {
    child = spawn(
      process.execPath,
      [
        MAIN,
        '--kubeconfig',
        cp.kubeconfigPath,
        '--namespace',
        OPERATOR_NS,
        '--metrics-addr',
        '127.0.0.1:0',
        '--grpc-addr',
        '127.0.0.1:0',
        '--id',
        'proc-1',
        '--retry-period',
        '250ms',
        '--renew-deadline',
        '2s',
        '--lease-duration',
        '3s',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ msg: l });
      }
    });
    const started = await waitFor('started log line', () => lines.find((l) => l.msg === 'started'));
    assert.equal(started.level, 'info');
    assert.equal(started.replica, 'proc-1');
    const port = started.metricsPort as number;
    assert.equal((await get(port, '/healthz')).status, 200);
    const ready = await waitFor(
      'ready',
      async () => {
        const r = await get(port, '/readyz');
        return r.status === 200 && /leader, synced/.test(r.body) ? r : undefined;
      },
      20_000,
    );
    assert.match(ready.body, /leader, synced/);
    const metrics = (await get(port, '/metrics')).body;
    assert.match(metrics, /palisade_operator_leader 1/);
    assert.match(metrics, /process_resident_memory_bytes/);
    assert.match(metrics, /palisade_compiled_ipcache_entries \d+/);
    assert.match(metrics, /palisade_identities_in_use \d+/);
    const lease = await client.get<Lease>(Resources.leases, 'palisade-operator', OPERATOR_NS);
    assert.equal(lease?.spec?.holderIdentity, 'proc-1');

    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const t0 = Date.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(Date.now() - t0 < 5000, 'graceful shutdown is quick');
    child = undefined;
    const released = await client.get<Lease>(Resources.leases, 'palisade-operator', OPERATOR_NS);
    assert.ok(!released?.spec?.holderIdentity, 'lease released for a standby');
    assert.ok(lines.some((l) => l.msg === 'stopped'));
  });
});
