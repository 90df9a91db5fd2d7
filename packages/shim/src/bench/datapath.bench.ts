/**
 * Datapath benchmark (root): packets per second between two pod namespaces through the
 * node namespace, with iperf3 UDP and 64-byte payloads, in one run:
 *
 *   - no program on the veths (the baseline, measured before, between and after),
 *   - Palisade's programs with 0 / 1k / 10k / 100k extra policy entries,
 *   - no program but iptables FORWARD chains of 1k / 10k non-matching rules.
 *
 * Then the addon's map update throughput (batched vs one call per entry) and the shim's
 * RSS with 100 endpoints and 10k ipcache entries. Every figure is printed next to its
 * baseline; ratios are what to compare across machines.
 *
 *   pnpm -s bench:datapath [--seconds 3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { addon } from '../native/addon.js';
import { policyKey, policyValue, VERDICT } from '../bpf/layouts.js';
import { NodeFixture, ip, privilegedSkipReason } from '../testing/nodeFixture.js';

const args = process.argv.slice(2);
const secIdx = args.indexOf('--seconds');
const SECONDS = secIdx >= 0 ? Number(args[secIdx + 1]) : 3;

function iperfPps(node: NodeFixture, fromNs: string, to: string): number {
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
      String(SECONDS),
      '-J',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  void node;
  const j = JSON.parse(out) as {
    end: { sum: { packets: number; lost_packets: number; seconds: number } };
  };
  const s = j.end.sum;
  return (s.packets - s.lost_packets) / s.seconds;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
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
    await node.apply();
    const srv = spawn('ip', ['netns', 'exec', b.netns, 'iperf3', '-s'], { stdio: 'ignore' });
    servers.push(srv);
    await new Promise((r) => setTimeout(r, 500));
    const hostIfs = (
      (await node.api('GET', '/v1/endpoints')) as { endpoints: { hostIfName: string }[] }
    ).endpoints.map((e) => e.hostIfName);
    const status = (await node.api('GET', '/v1/status')) as {
      maps: Record<string, { entries: number }>;
    };

    const detach = (): void => {
      for (const dev of hostIfs)
        for (const dir of ['ingress', 'egress'])
          execFileSync('ip', ['netns', 'exec', node.name, 'tc', 'filter', 'del', 'dev', dev, dir], {
            stdio: 'ignore',
          });
    };
    const results: { label: string; pps: number }[] = [];
    const baselines: number[] = [];
    const measure = (label: string, baseline = false): void => {
      iperfPps(node, a.netns, b.ipv4); // warm-up (ARP, conntrack) — short runs are noisy
      const pps = iperfPps(node, a.netns, b.ipv4);
      if (baseline) baselines.push(pps);
      results.push({ label, pps });
      process.stderr.write(`  ${label}: ${fmt(pps)} pps\n`);
    };

    // --- Palisade, with filler policy entries written straight into the pinned map -----------
    await node.stopShim('SIGTERM'); // programs stay attached; nobody repairs the fillers
    const x = addon();
    const policyFd = x.objGet(join(node.pinDir, 'pal_policy'));
    const fill = (n: number, first: number): { keys: Buffer; values: Buffer } => {
      const keys = Buffer.alloc(n * policyKey.size);
      const values = Buffer.alloc(n * policyValue.size);
      for (let i = 0; i < n; i++) {
        // Entries for the two endpoints' own identity range, as many remotes and ports as a
        // busy node holds: the trie gets as deep as it would in practice.
        policyKey.encode(keys, i * policyKey.size, {
          subject: 256 + (i % 2),
          remote: 1_000_000 + first + i,
          direction: (i >> 1) % 2 === 0 ? 0 : 1,
          protocol: 6,
          port: 1 + ((first + i) % 65000),
          portPrefixLen: 16,
        });
        policyValue.encode(values, i * policyValue.size, VERDICT.allow, 1);
      }
      return { keys, values };
    };
    process.stderr.write(
      `datapath benchmark: iperf3 UDP, 64-byte payloads, ${SECONDS} s per figure\n`,
    );
    detach();
    measure('no program (baseline 1)', true);
    await node.startShim(); // re-attaches
    measure(`palisade, ${status.maps.pal_policy?.entries ?? 0} policy entries`);
    await node.stopShim('SIGTERM');
    let filled = 0;
    let batchRate = 0;
    for (const target of [1_000, 10_000, 100_000]) {
      const f = fill(target - filled, filled);
      const t0 = performance.now();
      for (let off = 0; off < target - filled; off += 10_000) {
        const n = Math.min(10_000, target - filled - off);
        x.mapUpdate(
          policyFd,
          f.keys.subarray(off * policyKey.size, (off + n) * policyKey.size),
          f.values.subarray(off * policyValue.size, (off + n) * policyValue.size),
          n,
          0,
        );
      }
      const ms = performance.now() - t0;
      if (target === 100_000) batchRate = ((target - filled) / ms) * 1000;
      filled = target;
      measure(`palisade, ${fmt(target)} extra policy entries`);
    }
    // One call per entry, for the update-throughput baseline.
    const single = fill(20_000, 200_000);
    const t1 = performance.now();
    for (let i = 0; i < 20_000; i++)
      x.mapUpdate(
        policyFd,
        single.keys.subarray(i * policyKey.size, (i + 1) * policyKey.size),
        single.values.subarray(i * policyValue.size, (i + 1) * policyValue.size),
        1,
        0,
      );
    const singleRate = (20_000 / (performance.now() - t1)) * 1000;
    x.closeFd(policyFd);

    // --- iptables, no program -------------------------------------------------------------
    detach();
    measure('no program (baseline 2)', true);
    for (const n of [1_000, 10_000]) {
      const rules = ['*filter', ':FORWARD ACCEPT [0:0]'];
      for (let i = 0; i < n; i++)
        rules.push(
          `-A FORWARD -s 198.18.${(i >> 8) & 255}.${i & 255}/32 -p udp --dport ${1 + (i % 60000)} -j DROP`,
        );
      rules.push('COMMIT', '');
      const file = join(node.dir, 'rules.txt');
      writeFileSync(file, rules.join('\n'));
      execFileSync('ip', ['netns', 'exec', node.name, 'iptables-restore', file]);
      measure(`iptables, ${fmt(n)} rules`);
    }
    execFileSync('ip', ['netns', 'exec', node.name, 'iptables', '-F', 'FORWARD']);
    measure('no program (baseline 3)', true);

    // --- shim RSS: 100 endpoints, 10k ipcache entries ---------------------------------------
    const pods: unknown[] = [];
    for (let i = 0; i < 10_000; i++)
      pods.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `remote-${i}`, namespace: 'remote', labels: { app: `r${i % 50}` } },
        spec: { nodeName: 'elsewhere' },
        status: { phase: 'Running', podIP: `10.250.${i >> 8}.${i & 255}` },
      });
    writeFileSync(
      join(node.policyDir, '10-remote.yaml'),
      pods.map((p) => stringify(p)).join('---\n'),
    );
    await node.startShim();
    const batch: string[] = [];
    for (let i = 0; i < 98; i++) batch.push(`link add pb${i} type veth peer name pbp${i}`);
    writeFileSync(join(node.dir, 'links.batch'), `${batch.join('\n')}\n`);
    ip('-n', node.name, '-batch', join(node.dir, 'links.batch'));
    for (let i = 0; i < 98; i++) {
      const idx = Number(
        execFileSync('ip', ['netns', 'exec', node.name, 'cat', `/sys/class/net/pb${i}/ifindex`], {
          encoding: 'utf8',
        }).trim(),
      );
      await node.api('POST', '/v1/endpoints', {
        containerId: `bench-${i}`,
        hostIfName: `pb${i}`,
        hostIfIndex: idx,
        ips: [`10.251.0.${i + 1}`],
        pod: { namespace: 'bench', name: `p${i}` },
      });
    }
    await node.apply();
    const st = (await node.api('GET', '/v1/status')) as {
      endpoints: number;
      maps: Record<string, { entries: number }>;
    };
    const pid = node.shimPid;
    const rssKiB = Number(
      /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0,
    );
    const idle = spawn(process.execPath, ['-e', 'setTimeout(()=>{},2000)']);
    await new Promise((r) => setTimeout(r, 500));
    const idleKiB = Number(
      /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${idle.pid}/status`, 'utf8'))?.[1] ?? 0,
    );
    idle.kill();

    // --- report ----------------------------------------------------------------------------
    const base = baselines.reduce((s, v) => s + v, 0) / baselines.length;
    const spread = (Math.max(...baselines) - Math.min(...baselines)) / base;
    console.log(
      `\nPackets per second, iperf3 UDP 64 B, ${SECONDS} s each (baseline = mean of ${baselines.length} no-program runs, spread ${(spread * 100).toFixed(1)}%)`,
    );
    console.log(`${'scenario'.padEnd(42)} ${'pps'.padStart(12)}  ratio`);
    for (const r of results)
      console.log(
        `${r.label.padEnd(42)} ${fmt(r.pps).padStart(12)}  ${(r.pps / base).toFixed(3)}x`,
      );
    console.log(
      `\nMap updates through the addon (policy map): batched ${fmt(batchRate)} entries/s; one call per entry ${fmt(singleRate)} entries/s (${(batchRate / singleRate).toFixed(1)}x)`,
    );
    console.log(
      `\nShim RSS with ${st.endpoints} endpoints and ${fmt(st.maps.pal_ipcache?.entries ?? 0)} ipcache entries: ${(rssKiB / 1024).toFixed(1)} MiB (goal <= 100 MiB; an idle node process: ${(idleKiB / 1024).toFixed(1)} MiB)`,
    );
  } finally {
    for (const s of servers) s.kill();
    await node.close();
  }
}

main().catch((e: unknown) => {
  console.error(`bench:datapath: ${(e as Error).message}`);
  process.exit(1);
});
