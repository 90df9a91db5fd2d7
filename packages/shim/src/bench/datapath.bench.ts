/**
 * Datapath benchmark (root): packets per second between two pod namespaces through the
 * node namespace, iperf3 UDP with 64-byte payloads. Each scenario is measured in rounds
 * that alternate with its baseline (no program on the veths, no iptables rules), and the
 * median of the per-round ratios is reported, so machine noise hits both sides alike:
 *
 *   - Palisade's programs with the test policy plus 0 / 1k / 10k / 100k more policy
 *     entries (delivered to the shim as a compiled snapshot, applied by its reconciler),
 *   - no program but an iptables FORWARD chain of 1k / 10k non-matching rules.
 *
 * Then the addon's map update throughput (batched vs one call per entry), and the shim's
 * RSS with 100 endpoints and 10k ipcache entries.
 *
 *   pnpm -s bench:datapath [--seconds 2] [--rounds 3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { toSnapshot, type CompiledSnapshot, type PolicyMapEntry } from '@palisade/core';
import { addon } from '../native/addon.js';
import { policyKey, policyValue, VERDICT } from '../bpf/layouts.js';
import { LocalSource } from '../source/localSource.js';
import type { LocalEndpoint } from '../reconciler/endpoint.js';
import type { ApplyResult } from '../reconciler/reconciler.js';
import { NodeFixture, ip, privilegedSkipReason } from '../testing/nodeFixture.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 2);
const ROUNDS = opt('rounds', 3);

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const rssKiB = (pid: number | undefined): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

function iperf(fromNs: string, to: string, seconds: number): number {
  const out = execFileSync(
    'ip',
    [
      'netns',
      'exec',
      fromNs,
      'iperf3',
      '-c',
      to,
      '-u',
      '-b',
      '0',
      '-l',
      '64',
      '-t',
      String(seconds),
      '-J',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const s = (
    JSON.parse(out) as { end: { sum: { packets: number; lost_packets: number; seconds: number } } }
  ).end.sum;
  return (s.packets - s.lost_packets) / s.seconds;
}

/** `n` extra allow entries for the given subjects, as many remotes and ports as a busy node holds. */
function fillers(subjects: readonly number[], n: number): PolicyMapEntry[] {
  const out: PolicyMapEntry[] = [];
  for (let i = 0; i < n; i++)
    out.push({
      key: {
        subject: subjects[i % subjects.length] as number,
        direction: (i >> 1) % 2 === 0 ? 'ingress' : 'egress',
        remote: 1_000_000 + i,
        protocol: 6,
        port: 1 + (i % 65000),
        prefixLen: 16,
      },
      value: { verdict: 'allow', rules: ['bench/filler'] },
    });
  return out;
}

async function main(): Promise<void> {
  const skip = privilegedSkipReason();
  if (skip) throw new Error(`bench:datapath ${skip}`);
  const node = NodeFixture.create('bench');
  const servers: ReturnType<typeof spawn>[] = [];
  try {
    await node.startShim();
    const a = node.addPod('x', 'a', { app: 'a' });
    const b = node.addPod('x', 'b', { app: 'b' }, [{ containerPort: 5201, protocol: 'UDP' }]);
    node.writePods();
    node.writePolicy('allow.yaml', [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'b-from-a', namespace: 'x' },
        spec: {
          podSelector: { matchLabels: { app: 'b' } },
          ingress: [
            {
              from: [{ podSelector: { matchLabels: { app: 'a' } } }],
              ports: [
                { port: 5201, protocol: 'UDP' },
                { port: 5201, protocol: 'TCP' },
              ],
            },
          ],
        },
      },
    ]);
    // From here on the shim is fed compiled snapshots, the shape the operator sends.
    const local = new LocalSource([node.policyDir]);
    local.reload();
    const base = toSnapshot(local.state);
    const snapshotPath = join(node.dir, 'compiled.json');
    const writeSnapshot = (s: CompiledSnapshot): void =>
      writeFileSync(snapshotPath, JSON.stringify(s));
    writeSnapshot(base);
    await node.stopShim('SIGTERM');
    await node.startShim([], { compiled: snapshotPath });
    const subjects = base.endpoints.map((e) => e.identity);

    servers.push(spawn('ip', ['netns', 'exec', b.netns, 'iperf3', '-s'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 500));
    const endpoints = ((await node.api('GET', '/v1/endpoints')) as { endpoints: LocalEndpoint[] })
      .endpoints;
    const detach = (): void => {
      for (const e of endpoints)
        for (const dir of ['ingress', 'egress'])
          execFileSync(
            'ip',
            ['netns', 'exec', node.name, 'tc', 'filter', 'del', 'dev', e.hostIfName, dir],
            {
              stdio: 'ignore',
            },
          );
    };
    const attach = async (): Promise<void> => {
      for (const e of endpoints)
        await node.api('POST', '/v1/endpoints', {
          ...e,
          pod: { namespace: 'x', name: e.pod.split('/')[1] },
        });
    };
    const measure = (): number => {
      iperf(a.netns, b.ipv4, 1); // warm-up: neighbours, conntrack, CPU frequency
      return iperf(a.netns, b.ipv4, SECONDS);
    };
    const rows: { label: string; pps: number; basePps: number; ratio: number; note?: string }[] =
      [];
    const scenario = async (
      label: string,
      on: () => Promise<void> | void,
      off: () => Promise<void> | void,
      note?: string,
    ): Promise<void> => {
      const ratios: number[] = [];
      const pps: number[] = [];
      const basePps: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        await off();
        const b0 = measure();
        await on();
        const p = measure();
        ratios.push(p / b0);
        pps.push(p);
        basePps.push(b0);
      }
      await off();
      const row = {
        label,
        pps: median(pps),
        basePps: median(basePps),
        ratio: median(ratios),
        ...(note ? { note } : {}),
      };
      rows.push(row);
      process.stderr.write(
        `  ${label}: ${fmt(row.pps)} pps vs ${fmt(row.basePps)} (${row.ratio.toFixed(3)}x)\n`,
      );
    };

    process.stderr.write(
      `datapath benchmark: iperf3 UDP 64 B, ${SECONDS} s per figure, ${ROUNDS} rounds against the no-program baseline\n`,
    );
    for (const n of [0, 1_000, 10_000, 100_000]) {
      writeSnapshot({ ...base, policy: [...base.policy, ...fillers(subjects, n)] });
      const r = (await node.api('POST', '/v1/reload')) as ApplyResult;
      const st = (await node.api('GET', '/v1/status')) as {
        maps: Record<string, { entries: number }>;
      };
      await scenario(
        `palisade, ${fmt(st.maps.pal_policy?.entries ?? 0)} policy entries`,
        attach,
        detach,
        `applied +${fmt(r.upserts.policy)}/-${fmt(r.removes.policy)} entries in ${r.ms.toFixed(0)} ms`,
      );
    }
    for (const n of [1_000, 10_000]) {
      const rules = ['*filter', ':FORWARD ACCEPT [0:0]'];
      for (let i = 0; i < n; i++)
        rules.push(
          `-A FORWARD -s 198.18.${(i >> 8) & 255}.${i & 255}/32 -p udp --dport ${1 + (i % 60000)} -j DROP`,
        );
      rules.push('COMMIT', '');
      const file = join(node.dir, 'rules.txt');
      writeFileSync(file, rules.join('\n'));
      await scenario(
        `iptables, ${fmt(n)} rules (no program)`,
        () => void execFileSync('ip', ['netns', 'exec', node.name, 'iptables-restore', file]),
        () => void execFileSync('ip', ['netns', 'exec', node.name, 'iptables', '-F', 'FORWARD']),
      );
    }
    await attach();

    // --- map update throughput through the addon ---------------------------------------------
    const x = addon();
    const fd = x.objGet(join(node.pinDir, 'pal_policy'));
    const N = 50_000;
    const keys = Buffer.alloc(N * policyKey.size);
    const values = Buffer.alloc(N * policyValue.size);
    for (let i = 0; i < N; i++) {
      policyKey.encode(keys, i * policyKey.size, {
        subject: 9_000_000,
        remote: i,
        direction: 0,
        protocol: 17,
        port: 1 + (i % 65000),
        portPrefixLen: 16,
      });
      policyValue.encode(values, i * policyValue.size, VERDICT.allow, 1);
    }
    let t = performance.now();
    for (let off = 0; off < N; off += 10_000)
      x.mapUpdate(
        fd,
        keys.subarray(off * 16, (off + 10_000) * 16),
        values.subarray(off * 8, (off + 10_000) * 8),
        10_000,
        0,
      );
    const batched = (N / (performance.now() - t)) * 1000;
    t = performance.now();
    for (let i = 0; i < N; i++)
      x.mapUpdate(
        fd,
        keys.subarray(i * 16, (i + 1) * 16),
        values.subarray(i * 8, (i + 1) * 8),
        1,
        0,
      );
    const single = (N / (performance.now() - t)) * 1000;
    x.mapDelete(fd, keys, N);
    x.closeFd(fd);

    // --- shim RSS: 100 endpoints, 10k ipcache entries ------------------------------------------
    const remote: unknown[] = [];
    for (let i = 0; i < 10_000; i++)
      remote.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `remote-${i}`, namespace: 'remote', labels: { app: `r${i % 50}` } },
        spec: { nodeName: 'elsewhere' },
        status: { phase: 'Running', podIP: `10.250.${i >> 8}.${i & 255}` },
      });
    writeFileSync(
      join(node.policyDir, '10-remote.yaml'),
      remote.map((p) => stringify(p)).join('---\n'),
    );
    local.reload();
    writeSnapshot(toSnapshot(local.state));
    await node.api('POST', '/v1/reload');
    const links: string[] = [];
    for (let i = 0; i < 98; i++) links.push(`link add pb${i} type veth peer name pbp${i}`);
    writeFileSync(join(node.dir, 'links.batch'), `${links.join('\n')}\n`);
    ip('-n', node.name, '-batch', join(node.dir, 'links.batch'));
    const ifindex = JSON.parse(ip('-n', node.name, '-j', 'link', 'show')) as {
      ifname: string;
      ifindex: number;
    }[];
    for (let i = 0; i < 98; i++)
      await node.api('POST', '/v1/endpoints', {
        containerId: `bench-${i}`,
        hostIfName: `pb${i}`,
        hostIfIndex: ifindex.find((l) => l.ifname === `pb${i}`)?.ifindex,
        ips: [`10.251.0.${i + 1}`],
        pod: { namespace: 'bench', name: `p${i}` },
      });
    await new Promise((r) => setTimeout(r, 1000));
    const st = (await node.api('GET', '/v1/status')) as {
      endpoints: number;
      maps: Record<string, { entries: number }>;
      memory: { rss: number; heapUsed: number; external: number };
    };
    const shimKiB = rssKiB(node.shimPid);
    const idle = spawn(process.execPath, ['-e', 'setTimeout(()=>{},2000)']);
    await new Promise((r) => setTimeout(r, 500));
    const idleKiB = rssKiB(idle.pid);
    idle.kill();

    // --- report ------------------------------------------------------------------------------
    console.log(
      `\nPackets per second, iperf3 UDP 64 B, ${SECONDS} s per figure, median of ${ROUNDS} rounds`,
    );
    console.log(`${'scenario'.padEnd(40)} ${'pps'.padStart(10)} ${'baseline'.padStart(10)}  ratio`);
    for (const r of rows)
      console.log(
        `${r.label.padEnd(40)} ${fmt(r.pps).padStart(10)} ${fmt(r.basePps).padStart(10)}  ${r.ratio.toFixed(3)}x${r.note ? `   (${r.note})` : ''}`,
      );
    console.log(
      `\nMap updates through the addon (policy map, ${fmt(N)} entries): batched ${fmt(batched)}/s; one call per entry ${fmt(single)}/s (${(batched / single).toFixed(1)}x)`,
    );
    console.log(
      `\nShim RSS with ${st.endpoints} endpoints and ${fmt(st.maps.pal_ipcache?.entries ?? 0)} ipcache entries (compiled snapshot source): ${(shimKiB / 1024).toFixed(1)} MiB (goal <= 100 MiB; an idle node process: ${(idleKiB / 1024).toFixed(1)} MiB)` +
        `\n  of which JavaScript heap in use ${(st.memory.heapUsed / 1048576).toFixed(1)} MiB, external (Buffers) ${(st.memory.external / 1048576).toFixed(1)} MiB`,
    );
  } catch (e) {
    process.stderr.write(`shim log:\n${node.log.split('\n').slice(-15).join('\n')}\n`);
    throw e;
  } finally {
    for (const s of servers) s.kill();
    await node.close();
  }
}

main().catch((e: unknown) => {
  console.error(`bench:datapath: ${(e as Error).message}`);
  process.exit(1);
});
