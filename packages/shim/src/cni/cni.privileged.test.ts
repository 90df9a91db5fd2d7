/**
 * palisade-cni against the real kernel (root only): a node netns standing in for the node
 * (an uplink with addresses and default routes, as a real node has), pod netns, and a
 * fake shim on a unix socket. The compiled plugin runs inside the node netns through
 * `ip netns exec`, exactly as a runtime would run it on a node.
 *
 * Connectivity is checked with a TCP connect from the node netns to a server inside the
 * pod netns (ping is not installed everywhere).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakeShim } from './fakeShim.js';
import type { FakeShim } from './fakeShim.js';
import { findIpBinary } from './ip.js';
import { hostVethName } from './names.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const IP = findIpBinary();
const skip =
  process.getuid?.() !== 0 ? 'needs root' : !existsSync(IP) ? 'needs iproute2 (ip)' : false;

const NODE_NS = `pal-cnitest-node-${process.pid}`;
const POD_NS = `pal-cnitest-pod-${process.pid}`;
const POD2_NS = `pal-cnitest-pod2-${process.pid}`;
const PORT = 7777;

function ip(...args: string[]): string {
  const r = spawnSync(IP, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function ipJson<T>(...args: string[]): T {
  return JSON.parse(ip('-j', ...args) || '[]') as T;
}

interface Link {
  ifname: string;
  ifindex: number;
  address: string;
  mtu: number;
  flags: string[];
  addr_info: { local: string; prefixlen: number }[];
}

describe('palisade-cni in real network namespaces', { skip }, () => {
  let dir: string;
  let shim: FakeShim;
  let server: ChildProcess | undefined;
  let dataDir: string;

  const conf = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'palisade',
      type: 'palisade-cni',
      shimSocket: shim.socketPath,
      mtu: 1400,
      ipam: { subnets: ['10.1.0.0/24', 'fd00:1::/120'], dataDir },
      ...extra,
    });

  /**
   * Runs the plugin in the node netns. Asynchronous on purpose: the fake shim lives in
   * this process and must keep answering while the plugin runs.
   */
  function plugin(
    command: string,
    containerId: string,
    netns: string,
    stdin: string,
  ): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(IP, ['netns', 'exec', NODE_NS, process.execPath, MAIN], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        CNI_COMMAND: command,
        CNI_CONTAINERID: containerId,
        CNI_NETNS: `/var/run/netns/${netns}`,
        CNI_IFNAME: 'eth0',
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
        CNI_PATH: '/opt/cni/bin',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(stdin);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  /** TCP connect from the node netns to the pod; resolves to what the pod sent. */
  function connectFromNode(host: string): string {
    const script = `
      const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${PORT} });
      let d = '';
      s.setTimeout(2000, () => { console.log('timeout'); process.exit(2); });
      s.on('data', (c) => (d += c));
      s.on('end', () => { console.log(d); process.exit(0); });
      s.on('error', (e) => { console.log(e.code); process.exit(3); });`;
    const r = spawnSync(IP, ['netns', 'exec', NODE_NS, process.execPath, '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    return r.stdout.trim();
  }

  function eventually(host: string): string {
    let got = '';
    for (let i = 0; i < 10 && got !== 'pong'; i++) got = connectFromNode(host);
    return got;
  }

  const ipFiles = (): string[] => {
    try {
      return readdirSync(join(dataDir, 'palisade')).filter((f) => !f.startsWith('last_reserved'));
    } catch {
      return [];
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'palisade-cnitest-'));
    dataDir = join(dir, 'ipam');
    shim = await startFakeShim(join(dir, 'shim.sock'));
    for (const ns of [NODE_NS, POD_NS, POD2_NS]) ip('netns', 'add', ns);
    // The node: loopback and a dummy uplink holding the node's addresses and default
    // routes (proxy ARP answers for 169.254.1.1 only when the node has a route to it).
    ip('-n', NODE_NS, 'link', 'set', 'lo', 'up');
    // (A veth pair, not a dummy: the dummy module may not be available.)
    ip('-n', NODE_NS, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink0p');
    ip('-n', NODE_NS, 'link', 'set', 'uplink0p', 'up');
    ip('-n', NODE_NS, 'link', 'set', 'uplink0', 'up');
    ip('-n', NODE_NS, 'addr', 'add', '10.99.0.1/32', 'dev', 'uplink0');
    ip('-n', NODE_NS, 'addr', 'add', 'fd99::1/128', 'dev', 'uplink0', 'nodad');
    ip('-n', NODE_NS, 'route', 'add', 'default', 'dev', 'uplink0');
    ip('-n', NODE_NS, '-6', 'route', 'add', 'default', 'dev', 'uplink0');
    // A TCP server inside the pod netns, listening before the pod has an interface.
    const srv = spawn(
      IP,
      [
        'netns',
        'exec',
        POD_NS,
        process.execPath,
        '-e',
        `require('node:net').createServer((s) => s.end('pong')).listen({ host: '::', port: ${PORT}, ipv6Only: false }, () => console.log('ready'));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.stdout?.once('data', () => resolve());
      srv.once('exit', (code) => reject(new Error(`pod server exited with ${code}`)));
    });
  });

  after(async () => {
    server?.kill();
    await shim?.close();
    for (const ns of [NODE_NS, POD_NS, POD2_NS]) spawnSync(IP, ['netns', 'del', ns]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const host = hostVethName('c1', 'eth0');
  let result: Record<string, unknown>;

  it('ADD creates the pair, addresses and routes, and registers the endpoint', async () => {
    const r = await plugin('ADD', 'c1', POD_NS, conf());
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    result = JSON.parse(r.stdout) as Record<string, unknown>;

    const [h] = ipJson<Link[]>('-n', NODE_NS, 'addr', 'show', 'dev', host);
    const [p] = ipJson<Link[]>('-n', POD_NS, 'addr', 'show', 'dev', 'eth0');
    assert.ok(h && p);
    assert.equal(h.mtu, 1400);
    assert.equal(p.mtu, 1400);
    assert.ok(h.flags.includes('UP') && p.flags.includes('UP'));
    assert.ok(h.addr_info.some((a) => a.local === 'fe80::1' && a.prefixlen === 64));
    const podAddrs = p.addr_info
      .filter((a) => !a.local.startsWith('fe80'))
      .map((a) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(podAddrs, ['10.1.0.2/24', 'fd00:1::2/120']);

    assert.deepEqual(result['interfaces'], [
      { name: host, mac: h.address },
      { name: 'eth0', mac: p.address, sandbox: `/var/run/netns/${POD_NS}` },
    ]);
    assert.deepEqual(
      (result['ips'] as { address: string }[]).map((x) => x.address),
      ['10.1.0.2/24', 'fd00:1::2/120'],
    );

    const podV4 = ip('-n', POD_NS, 'route', 'show');
    assert.match(podV4, /default via 169\.254\.1\.1 dev eth0 onlink/);
    assert.doesNotMatch(podV4, /10\.1\.0\.0\/24/, 'no on-link subnet route (noprefixroute)');
    assert.match(ip('-n', POD_NS, '-6', 'route', 'show'), /default via fe80::1 dev eth0/);
    assert.match(
      ip('-n', NODE_NS, 'route', 'show', '10.1.0.2'),
      new RegExp(`10\\.1\\.0\\.2 dev ${host}`),
    );
    assert.match(
      ip('-n', NODE_NS, '-6', 'route', 'show', 'fd00:1::2'),
      new RegExp(`fd00:1::2 dev ${host}`),
    );
    const sysctl = (path: string): string =>
      spawnSync(IP, ['netns', 'exec', NODE_NS, 'cat', `/proc/sys/${path}`], {
        encoding: 'utf8',
      }).stdout.trim();
    assert.equal(sysctl(`net/ipv4/conf/${host}/proxy_arp`), '1');
    assert.equal(sysctl(`net/ipv4/neigh/${host}/proxy_delay`), '0');

    const post = shim.requests.find((q) => q.method === 'POST');
    assert.deepEqual(post?.body, {
      containerId: 'c1',
      netns: `/var/run/netns/${POD_NS}`,
      ifName: 'eth0',
      hostIfName: host,
      hostIfIndex: h.ifindex,
      ips: ['10.1.0.2', 'fd00:1::2'],
      mac: p.address,
      pod: { namespace: 'default', name: 'web-0' },
    });
    assert.deepEqual(ipFiles().sort(), ['10.1.0.2', 'fd00:1::2']);
  });

  it('the node reaches the pod over IPv4 and IPv6', () => {
    assert.equal(eventually('10.1.0.2'), 'pong');
    assert.equal(eventually('fd00:1::2'), 'pong');
  });

  it('CHECK passes', async () => {
    const r = await plugin('CHECK', 'c1', POD_NS, conf({ prevResult: result }));
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout, '');
  });

  it('DEL removes the pair, the routes and the addresses; a second DEL succeeds', async () => {
    const r = await plugin('DEL', 'c1', POD_NS, conf({ prevResult: result }));
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(!ipJson<Link[]>('-n', NODE_NS, 'link', 'show').some((l) => l.ifname === host));
    assert.ok(!ipJson<Link[]>('-n', POD_NS, 'link', 'show').some((l) => l.ifname === 'eth0'));
    assert.equal(ip('-n', NODE_NS, 'route', 'show', '10.1.0.2'), '');
    assert.deepEqual(ipFiles(), []);
    assert.ok(shim.requests.some((q) => q.method === 'DELETE' && q.url === '/v1/endpoints/c1'));
    const again = await plugin('DEL', 'c1', POD_NS, conf());
    assert.equal(again.status, 0, `${again.stdout}\n${again.stderr}`);
  });

  it('ADD fails with code 11 when the shim refuses, and leaves nothing behind', async () => {
    shim.mode = 'refuse';
    const r = await plugin('ADD', 'c2', POD2_NS, conf());
    shim.mode = 'ok';
    assert.equal(r.status, 1);
    const err = JSON.parse(r.stdout) as { code: number; msg: string };
    assert.equal(err.code, 11);
    assert.match(err.msg, /NotReady: datapath not loaded yet/);
    const host2 = hostVethName('c2', 'eth0');
    assert.ok(!ipJson<Link[]>('-n', NODE_NS, 'link', 'show').some((l) => l.ifname === host2));
    assert.ok(!ipJson<Link[]>('-n', POD2_NS, 'link', 'show').some((l) => l.ifname === 'eth0'));
    assert.equal(ip('-n', NODE_NS, 'route', 'show'), 'default dev uplink0 scope link \n');
    assert.deepEqual(ipFiles(), []);
  });
});
