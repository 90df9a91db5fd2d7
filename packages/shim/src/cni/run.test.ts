/**
 * ADD, DEL, CHECK and VERSION end to end through `runCni`, with the kernel and the shim
 * faked (no root needed): results, rollback, idempotent DEL, error results.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import type { CniDeps } from './deps.js';
import { CniError } from './errors.js';
import { FakeLinks } from './fakeLinks.js';
import { hostVethName } from './names.js';
import { runCni } from './run.js';
import type { CniOutput } from './run.js';
import type { EndpointRegistration, ShimApi } from './shimClient.js';

const root = mkdtempSync(join(tmpdir(), 'palisade-run-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;

class MemoryShim implements ShimApi {
  readonly endpoints = new Map<string, EndpointRegistration>();
  readonly calls: string[] = [];
  mode: 'ok' | 'refuse' | 'down' = 'ok';
  private gate(what: string): void {
    this.calls.push(what);
    if (this.mode === 'refuse')
      throw new CniError('TryAgainLater', 'shim refused: NotReady: loading');
    if (this.mode === 'down')
      throw new CniError('TryAgainLater', 'shim at /x is unreachable: ECONNREFUSED');
  }
  register(reg: EndpointRegistration): Promise<void> {
    this.gate(`register ${reg.containerId}`);
    this.endpoints.set(reg.containerId, reg);
    return Promise.resolve();
  }
  unregister(id: string): Promise<void> {
    this.gate(`unregister ${id}`);
    this.endpoints.delete(id);
    return Promise.resolve();
  }
  has(id: string): Promise<boolean> {
    this.gate(`has ${id}`);
    return Promise.resolve(this.endpoints.has(id));
  }
}

let links: FakeLinks;
let shim: MemoryShim;
let dataDir: string;
let logs: string[];
let deps: CniDeps;
beforeEach(() => {
  links = new FakeLinks();
  shim = new MemoryShim();
  dataDir = join(root, `d${dirCount++}`);
  logs = [];
  deps = { link: links, shim: () => shim, log: (l) => logs.push(l) };
});

const conf = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'palisade',
    type: 'palisade-cni',
    shimSocket: '/run/palisade/shim.sock',
    mtu: 1400,
    ipam: { subnets: ['10.1.0.0/24', 'fd00:1::/120'], dataDir },
    ...extra,
  });
const env = (command: string, id = 'c1'): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: id,
  CNI_NETNS: '/var/run/netns/pod1',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
  CNI_PATH: '/opt/cni/bin',
});
const run = (e: Record<string, string | undefined>, stdin = conf()): Promise<CniOutput> =>
  runCni(e, () => Promise.resolve(stdin), deps);
const parse = (o: CniOutput): Record<string, unknown> =>
  JSON.parse(o.stdout) as Record<string, unknown>;
const ipFiles = (): string[] => {
  try {
    return readdirSync(join(dataDir, 'palisade')).filter((f) => !f.startsWith('last_reserved'));
  } catch {
    return [];
  }
};
const host = hostVethName('c1', 'eth0');

describe('runCni ADD', () => {
  it('sets up the pair, registers with the shim and prints the result', async () => {
    const out = await run(env('ADD'));
    assert.equal(out.exitCode, 0, out.stdout);
    const r = parse(out);
    const h = links.find(host)!;
    const p = links.find('eth0', 'pod1')!;
    assert.deepEqual(r, {
      cniVersion: '1.0.0',
      interfaces: [
        { name: host, mac: h.mac },
        { name: 'eth0', mac: p.mac, sandbox: '/var/run/netns/pod1' },
      ],
      ips: [
        { address: '10.1.0.2/24', gateway: '169.254.1.1', interface: 1 },
        { address: 'fd00:1::2/120', gateway: 'fe80::1', interface: 1 },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '169.254.1.1' },
        { dst: '::/0', gw: 'fe80::1' },
      ],
      dns: {},
    });
    assert.deepEqual(shim.endpoints.get('c1'), {
      containerId: 'c1',
      netns: '/var/run/netns/pod1',
      ifName: 'eth0',
      hostIfName: host,
      hostIfIndex: h.ifindex,
      ips: ['10.1.0.2', 'fd00:1::2'],
      mac: p.mac,
      pod: { namespace: 'default', name: 'web-0' },
    });
    assert.ok(h.up && p.up && h.mtu === 1400 && p.mtu === 1400);
    assert.deepEqual(
      h.addrs.map((a) => `${a.local}/${a.prefixlen}`),
      ['169.254.1.1/32', 'fe80::1/64'],
    );
    assert.deepEqual(
      p.addrs.map((a) => `${a.local}/${a.prefixlen}`),
      ['10.1.0.2/24', 'fd00:1::2/120'],
    );
    assert.deepEqual(Object.fromEntries(links.sysctls), {
      [`net/ipv4/conf/${host}/proxy_arp`]: '1',
      [`net/ipv4/neigh/${host}/proxy_delay`]: '0',
      [`net/ipv4/conf/${host}/forwarding`]: '1',
    });
    const cmds = links.commands.filter((c) => !c.includes('-j addr show'));
    for (const expected of [
      `link add ${host} mtu 1400 type veth peer name eth0 mtu 1400 netns pod1`,
      `addr add 169.254.1.1/32 dev ${host} scope link`,
      `addr add fe80::1/64 dev ${host} nodad`,
      '-n pod1 link set dev lo up',
      '-n pod1 addr add fd00:1::2/120 dev eth0 nodad noprefixroute',
      '-n pod1 route add default via 169.254.1.1 dev eth0 onlink',
      '-n pod1 -6 route add default via fe80::1 dev eth0',
      `-4 route add 10.1.0.2/32 dev ${host}`,
      `-6 route add fd00:1::2/128 dev ${host}`,
    ]) {
      assert.ok(cmds.includes(expected), `missing: ip ${expected}\n${cmds.join('\n')}`);
    }
  });

  it('answers a 0.4.0 config in 0.4.0', async () => {
    const r = parse(await run(env('ADD'), conf({ cniVersion: '0.4.0' })));
    assert.equal(r['cniVersion'], '0.4.0');
    assert.deepEqual(
      (r['ips'] as { version: string }[]).map((i) => i.version),
      ['4', '6'],
    );
  });

  it('names the pod after the container when CNI_ARGS has no K8S_POD_*', async () => {
    await run({ ...env('ADD'), CNI_ARGS: undefined });
    assert.deepEqual(shim.endpoints.get('c1')?.pod, { namespace: '', name: 'c1' });
  });

  it('is idempotent-ish: a repeated ADD reuses the address and replaces the pair', async () => {
    await run(env('ADD'));
    const again = await run(env('ADD'));
    assert.equal(again.exitCode, 0);
    assert.equal((parse(again)['ips'] as { address: string }[])[0]!.address, '10.1.0.2/24');
    assert.equal(links.links.filter((l) => l.ifname === host).length, 1);
    assert.deepEqual(ipFiles().sort(), ['10.1.0.2', 'fd00:1::2']);
  });

  it('undoes everything and answers code 11 when the shim refuses', async () => {
    shim.mode = 'refuse';
    const out = await run(env('ADD'));
    assert.equal(out.exitCode, 1);
    assert.deepEqual(parse(out), {
      cniVersion: '1.0.0',
      code: 11,
      msg: 'shim refused: NotReady: loading',
      details: '',
    });
    assert.equal(links.find(host), undefined);
    assert.equal(links.find('eth0', 'pod1'), undefined);
    assert.deepEqual(ipFiles(), []);
  });

  it('undoes everything when a link step fails (code 102)', async () => {
    links.failWhen = (c) => c.includes('route add default via 169.254.1.1');
    const out = await run(env('ADD'));
    assert.equal(parse(out)['code'], 102);
    assert.match(parse(out)['msg'] as string, /route add default via 169.254.1.1/);
    assert.equal(links.find(host), undefined);
    assert.deepEqual(ipFiles(), []);
    assert.deepEqual(shim.calls, []);
  });

  it('keeps no addresses when the subnet is full (code 100)', async () => {
    const full = conf({ ipam: { subnets: ['fd00:1::/120', '10.9.0.0/30'], dataDir } });
    assert.equal((await run(env('ADD', 'a'), full)).exitCode, 0);
    const out = await run(env('ADD', 'b'), full);
    assert.deepEqual(parse(out), {
      cniVersion: '1.0.0',
      code: 100,
      msg: 'no free address in 10.9.0.0/30',
      details: '',
    });
    assert.deepEqual(ipFiles().sort(), ['10.9.0.2', 'fd00:1::2']);
  });

  it('refuses a netns path ip -n cannot open, before touching anything (code 101)', async () => {
    const out = await run({ ...env('ADD'), CNI_NETNS: '/proc/123/ns/net' });
    assert.equal(parse(out)['code'], 101);
    assert.deepEqual(links.commands, []);
    assert.deepEqual(ipFiles(), []);
  });
});

describe('runCni DEL', () => {
  it('removes the endpoint, the pair and the addresses; a second DEL succeeds too', async () => {
    await run(env('ADD'));
    const out = await run(env('DEL'));
    assert.deepEqual(out, { stdout: '', exitCode: 0 });
    assert.equal(shim.endpoints.size, 0);
    assert.equal(links.find(host), undefined);
    assert.deepEqual(ipFiles(), []);
    assert.deepEqual(await run(env('DEL')), { stdout: '', exitCode: 0 });
    assert.deepEqual(await run({ ...env('DEL'), CNI_NETNS: undefined }), {
      stdout: '',
      exitCode: 0,
    });
  });

  it('with the shim down: removes the pair, keeps the addresses, answers code 11', async () => {
    await run(env('ADD'));
    shim.mode = 'down';
    const out = await run(env('DEL'));
    assert.equal(out.exitCode, 1);
    const r = parse(out);
    assert.equal(r['code'], 11);
    assert.match(
      r['msg'] as string,
      /unreachable.*addresses stay reserved until the shim confirms/,
    );
    assert.equal(links.find(host), undefined);
    assert.deepEqual(ipFiles().sort(), ['10.1.0.2', 'fd00:1::2']);
    shim.mode = 'ok';
    assert.equal((await run(env('DEL'))).exitCode, 0, 'the retry releases them');
    assert.deepEqual(ipFiles(), []);
  });
});

describe('runCni CHECK', () => {
  it('passes after ADD, with and without prevResult', async () => {
    const added = parse(await run(env('ADD')));
    assert.deepEqual(await run(env('CHECK')), { stdout: '', exitCode: 0 });
    assert.deepEqual(await run(env('CHECK'), conf({ prevResult: added })), {
      stdout: '',
      exitCode: 0,
    });
  });

  it('fails with code 103 naming what is missing', async () => {
    const added = parse(await run(env('ADD')));
    const check = async (): Promise<string> => {
      const out = await run(env('CHECK'), conf({ prevResult: added }));
      assert.equal(out.exitCode, 1);
      assert.equal(parse(out)['code'], 103);
      return parse(out)['msg'] as string;
    };
    shim.endpoints.clear();
    assert.match(await check(), /the shim has no endpoint for container c1/);
    links.find('eth0', 'pod1')!.addrs.pop();
    assert.match(await check(), /has addresses \[10.1.0.2\], expected \[10.1.0.2, fd00:1::2\]/);
    links.links.splice(links.links.indexOf(links.find('eth0', 'pod1')!), 1);
    assert.match(await check(), /interface eth0 does not exist in netns pod1/);
    links.links.splice(links.links.indexOf(links.find(host)!), 1);
    assert.match(await check(), new RegExp(`host veth ${host} does not exist`));
  });

  it('fails when the IPAM store disagrees with prevResult or holds nothing', async () => {
    const prev = { ips: [{ address: '10.1.0.77/24', gateway: '169.254.1.1', interface: 1 }] };
    await run(env('ADD'));
    assert.match(
      parse(await run(env('CHECK'), conf({ prevResult: prev })))['msg'] as string,
      /IPAM store holds \[10.1.0.2, fd00:1::2\]/,
    );
    assert.match(
      parse(await run(env('CHECK', 'unknown')))['msg'] as string,
      /no address is recorded for unknown\/eth0/,
    );
  });
});

describe('runCni other commands and malformed requests', () => {
  it('VERSION answers without reading stdin', async () => {
    const out = await runCni(
      { CNI_COMMAND: 'VERSION' },
      () => Promise.reject(new Error('read')),
      deps,
    );
    assert.deepEqual(out, {
      stdout: '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}\n',
      exitCode: 0,
    });
  });

  it('STATUS and GC are refused as CNI 1.1.0 commands (code 1)', async () => {
    for (const c of ['STATUS', 'GC']) {
      const r = parse(await run({ CNI_COMMAND: c }));
      assert.equal(r['code'], 1);
      assert.match(r['msg'] as string, new RegExp(`${c} belongs to CNI 1.1.0`));
    }
  });

  it('labels errors with the config’s cniVersion when it is supported', async () => {
    const r = parse(
      await run({ ...env('ADD'), CNI_CONTAINERID: undefined }, conf({ cniVersion: '0.4.0' })),
    );
    assert.deepEqual(r, {
      cniVersion: '0.4.0',
      code: 4,
      msg: 'CNI_CONTAINERID: required',
      details: '',
    });
  });

  it('answers bad JSON with code 6, an unknown command with code 4, a bad subnet with code 7', async () => {
    assert.equal(parse(await run(env('ADD'), '{oops'))['code'], 6);
    assert.equal(parse(await run(env('FROB')))['code'], 4);
    assert.equal(parse(await run({}))['code'], 4);
    const bad = parse(await run(env('ADD'), conf({ ipam: { subnets: ['10.1.0.0/33'] } })));
    assert.equal(bad['code'], 7);
    assert.match(bad['msg'] as string, /ipam.subnets\[0\]/);
  });

  it('turns an unexpected exception into code 199 without throwing', async () => {
    const broken: CniDeps = {
      ...deps,
      shim: () => {
        throw new TypeError('boom');
      },
    };
    const out = await runCni(env('ADD'), () => Promise.resolve(conf()), broken);
    assert.deepEqual(parse(out), {
      cniVersion: '1.0.0',
      code: 199,
      msg: 'internal error: boom',
      details: '',
    });
    assert.equal(links.find(host), undefined, 'rolled back');
  });
});
