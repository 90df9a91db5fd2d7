/**
 * Datapath benchmark (root): packets per second between two pod namespaces through the
 * node namespace, iperf3 UDP with 64-byte payloads. Each scenario is measured in rounds
 * that alternate with its baseline (no program on the veths, no iptables rules), in
 * A-B / B-A order so that drift hits both sides alike, and the median of the per-round
 * ratios is reported with every round's ratio:
 *
 *   - Palisade's programs with the test policy plus 0 / 1k / 10k / 100k more policy
 *     entries (delivered to the shim as a compiled snapshot, applied by its reconciler),
 *   - no program but an iptables FORWARD chain of 1k / 10k non-matching rules.
 *
 * The iperf3 client (and with it the whole forwarding path, which runs in its softirq) is
 * pinned to CPU 0 and the server to CPU 1, and the shim runs with a resync interval of an
 * hour, so its periodic full map re-read does not land inside a measurement; the 1-minute
 * load average before and after shows what else ran on the machine.
 *
 * Then the programs' own cost per packet (BPF_PROG_TEST_RUN through bpftool, on an
 * established UDP packet: no noise from the rest of the machine), and the addon's map
 * update throughput (batched vs one call per entry). Memory: `memory.bench.js`.
 *
 *   pnpm -s bench:datapath [--seconds 3] [--rounds 5] [--no-pin]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toSnapshot, type CompiledSnapshot, type PolicyMapEntry } from '@palisade/core';
import { addon } from '../native/addon.js';
import { policyKey, policyValue, VERDICT } from '../bpf/layouts.js';
import { LocalSource } from '../source/localSource.js';
import type { LocalEndpoint } from '../reconciler/endpoint.js';
import type { ApplyResult } from '../reconciler/reconciler.js';
import { NodeFixture, privilegedSkipReason } from '../testing/nodeFixture.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 3);
const ROUNDS = opt('rounds', 5);
const PIN = !args.includes('--no-pin') && cpus().length >= 2;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';

/** One iperf3 run: packets received per second, and the sender's CPU time per packet sent. */
interface IperfResult {
  readonly pps: number;
  /**
   * CPU time (ns) per packet sent of the iperf3 client plus ksoftirqd/0 — with the client
   * pinned to CPU 0 the whole forwarding path, both programs included, runs in those two.
   * CPU time only advances while they run, so other load on the machine barely moves it.
   */
  readonly cpuNs: number;
}

/** The pid of ksoftirqd/0, for its CPU time. */
const KSOFTIRQD0 = (() => {
  try {
    return execFileSync('pgrep', ['-x', 'ksoftirqd/0'], { encoding: 'utf8' }).trim().split('\n')[0];
  } catch {
    return undefined;
  }
})();
const ksoftirqdNs = (): number =>
  KSOFTIRQD0 ? Number(readFileSync(`/proc/${KSOFTIRQD0}/schedstat`, 'utf8').split(' ')[0]) : 0;

/** One iperf3 run, retried (up to 3 times) when iperf3 fails. */
function iperf(fromNs: string, to: string, seconds: number): IperfResult {
  let error = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const r = iperfOnce(fromNs, to, seconds);
      if ('pps' in r) return r;
      error = r.error;
    } catch (e) {
      error = (e as Error).message;
    }
    execFileSync('sleep', ['1']);
  }
  throw new Error(`iperf3 failed 3 times: ${error}`);
}

function iperfOnce(fromNs: string, to: string, seconds: number): IperfResult | { error: string } {
  const soft0 = ksoftirqdNs();
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
      ...(PIN ? ['-A', '0,1'] : []),
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const soft = ksoftirqdNs() - soft0;
  const j = JSON.parse(out) as {
    error?: string;
    end?: {
      sum?: { packets: number; lost_packets: number; seconds: number };
      cpu_utilization_percent?: { host_total: number };
    };
  };
  const s = j.end?.sum;
  if (!s) return { error: j.error ?? 'no summary in the output' };
  const clientNs = ((j.end?.cpu_utilization_percent?.host_total ?? 0) / 100) * s.seconds * 1e9;
  return {
    pps: (s.packets - s.lost_packets) / s.seconds,
    cpuNs: (clientNs + (PIN ? soft : 0)) / Math.max(1, s.packets),
  };
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

const TEST_RUNS = 1_000_000;
const HOOKS_JS = fileURLToPath(new URL('../bpf/hooks.js', import.meta.url));

/** Runs a snippet in the node's network namespace with `h` = the shim's hooks module. */
function inNode(node: NodeFixture, code: string): string {
  return execFileSync(
    'ip',
    [
      'netns',
      'exec',
      node.name,
      process.execPath,
      '--input-type=module',
      '-e',
      `import * as h from ${JSON.stringify(HOOKS_JS)}; ${code}`,
    ],
    { encoding: 'utf8' },
  );
}

/** An Ethernet + IPv4 + UDP packet with a 64-byte payload. */
function udpPacket(src: string, dst: string, sport: number, dport: number): Buffer {
  const pkt = Buffer.alloc(14 + 20 + 8 + 64);
  pkt.writeUInt16BE(0x0800, 12);
  const ipOff = 14;
  pkt[ipOff] = 0x45;
  pkt.writeUInt16BE(20 + 8 + 64, ipOff + 2);
  pkt[ipOff + 8] = 64;
  pkt[ipOff + 9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(pkt, ipOff + 12);
  Buffer.from(dst.split('.').map(Number)).copy(pkt, ipOff + 16);
  pkt.writeUInt16BE(sport, ipOff + 20);
  pkt.writeUInt16BE(dport, ipOff + 22);
  pkt.writeUInt16BE(8 + 64, ipOff + 24);
  return pkt;
}

/**
 * The average time of each attached program on an established UDP packet from pod a to
 * pod b (its first run opens the flow), by BPF_PROG_TEST_RUN through bpftool: the median of
 * three runs of TEST_RUNS repetitions each.
 */
function programCost(
  node: NodeFixture,
  endpoints: readonly LocalEndpoint[],
  a: { ipv4: string },
  b: { ipv4: string },
): string {
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    return 'skipped (bpftool is not installed)';
  }
  const ep = (ip: string): LocalEndpoint | undefined => endpoints.find((e) => e.ips.includes(ip));
  const pktFile = join(node.dir, 'pkt.bin');
  const ctxFile = join(node.dir, 'ctx.bin');
  writeFileSync(pktFile, udpPacket(a.ipv4, b.ipv4, 40000, 5201));
  const out: string[] = [];
  for (const [prog, e, hook] of [
    ['from_pod (pod a egress)', ep(a.ipv4), 'ingress'],
    ['to_pod (pod b ingress)', ep(b.ipv4), 'egress'],
  ] as const) {
    if (!e) continue;
    const attached = JSON.parse(
      inNode(node, `console.log(JSON.stringify(h.attachedPrograms(${e.hostIfIndex})))`),
    ) as Record<'ingress' | 'egress', number>;
    const id = attached[hook];
    if (!id) continue;
    const ctx = Buffer.alloc(192); // struct __sk_buff: ifindex at offset 40
    ctx.writeUInt32LE(e.hostIfIndex, 40);
    writeFileSync(ctxFile, ctx);
    const ns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const text = execFileSync(
        'ip',
        [
          'netns',
          'exec',
          node.name,
          'bpftool',
          'prog',
          'run',
          'id',
          String(id),
          'data_in',
          pktFile,
          'ctx_in',
          ctxFile,
          'repeat',
          String(TEST_RUNS),
        ],
        { encoding: 'utf8' },
      );
      ns.push(Number(/duration \(average\): (\d+)ns/.exec(text)?.[1] ?? NaN));
    }
    out.push(`${prog} ${median(ns)} ns`);
  }
  return out.join(', ');
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
    // Only POST /v1/reload applies a new snapshot (no file polling racing it), and no
    // periodic resync lands inside a measurement.
    const shimArgs = ['--resync-interval', '3600000', '--source-interval', '3600000'];
    await node.startShim(shimArgs, { compiled: snapshotPath });
    const subjects = base.endpoints.map((e) => e.identity);

    servers.push(spawn('ip', ['netns', 'exec', b.netns, 'iperf3', '-s'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 500));
    const endpoints = ((await node.api('GET', '/v1/endpoints')) as { endpoints: LocalEndpoint[] })
      .endpoints;
    const detach = (): void =>
      void inNode(
        node,
        `for (const i of ${JSON.stringify(endpoints.map((e) => e.hostIfIndex))}) h.detachPrograms(i);`,
      );
    const attach = async (): Promise<void> => {
      for (const e of endpoints)
        await node.api('POST', '/v1/endpoints', {
          ...e,
          pod: { namespace: 'x', name: e.pod.split('/')[1] },
        });
    };
    const measure = (): IperfResult => {
      iperf(a.netns, b.ipv4, 1); // warm-up: neighbours, conntrack, CPU frequency
      return iperf(a.netns, b.ipv4, SECONDS);
    };
    const rows: {
      label: string;
      pps: number;
      basePps: number;
      ratio: number;
      ratios: number[];
      /** Median of baseline / scenario sender CPU time per packet. */
      cpuRatio: number;
      note?: string;
    }[] = [];
    const scenario = async (
      label: string,
      on: () => Promise<void> | void,
      off: () => Promise<void> | void,
      note?: string,
    ): Promise<void> => {
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      const pps: number[] = [];
      const basePps: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // A-B in even rounds, B-A in odd ones.
        const first = r % 2 === 0 ? off : on;
        const second = r % 2 === 0 ? on : off;
        await first();
        const m1 = measure();
        await second();
        const m2 = measure();
        const [b0, p] = r % 2 === 0 ? [m1, m2] : [m2, m1];
        ratios.push(p.pps / b0.pps);
        cpuRatios.push(b0.cpuNs / p.cpuNs);
        pps.push(p.pps);
        basePps.push(b0.pps);
      }
      await off();
      const row = {
        label,
        pps: median(pps),
        basePps: median(basePps),
        ratio: median(ratios),
        ratios,
        cpuRatio: median(cpuRatios),
        ...(note ? { note } : {}),
      };
      rows.push(row);
      process.stderr.write(
        `  ${label}: ${fmt(row.pps)} pps vs ${fmt(row.basePps)} (${row.ratio.toFixed(3)}x; rounds ${ratios.map((x) => x.toFixed(3)).join(' ')}; per CPU time ${row.cpuRatio.toFixed(3)}x)\n`,
      );
    };

    const loadBefore = loadavg();
    process.stderr.write(
      `datapath benchmark: iperf3 UDP 64 B, ${SECONDS} s per figure, ${ROUNDS} rounds against the no-program baseline, ${PIN ? 'client on CPU 0, server on CPU 1' : 'not pinned'}\n`,
    );
    const hookOf = (): string =>
      (
        JSON.parse(
          inNode(
            node,
            `console.log(JSON.stringify(h.attachedPrograms(${endpoints[0]?.hostIfIndex ?? 0})))`,
          ),
        ) as { hook?: string }
      ).hook ?? 'none';
    const palisade = async (n: number): Promise<void> => {
      writeSnapshot({ ...base, policy: [...base.policy, ...fillers(subjects, n)] });
      const r = (await node.api('POST', '/v1/reload')) as ApplyResult;
      const st = (await node.api('GET', '/v1/status')) as {
        maps: Record<string, { entries: number }>;
      };
      await attach();
      await scenario(
        `palisade (${hookOf()}), ${fmt(st.maps.pal_policy?.entries ?? 0)} policy entries`,
        attach,
        detach,
        `applied +${fmt(r.upserts.policy)}/-${fmt(r.removes.policy)} entries in ${r.ms.toFixed(0)} ms`,
      );
    };
    for (const n of [0, 1_000, 10_000, 100_000]) await palisade(n);
    // The same programs as a tc filter (cls_bpf), as kernels before 6.6 run them.
    await node.stopShim('SIGTERM');
    await node.startShim([...shimArgs, '--hook', 'tc'], { compiled: snapshotPath });
    await palisade(10_000);
    await node.stopShim('SIGTERM');
    await node.startShim(shimArgs, { compiled: snapshotPath }); // re-attaches: take them off
    detach();
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

    const loadAfter = loadavg();

    // --- the programs' own cost per packet --------------------------------------------------
    const progCost = programCost(node, endpoints, a, b);

    // --- report ------------------------------------------------------------------------------
    console.log(
      `\nPackets per second, iperf3 UDP 64 B, ${SECONDS} s per figure, median of ${ROUNDS} rounds (A-B/B-A), ${PIN ? 'client CPU 0 / server CPU 1' : 'not pinned'}; 1-min load average ${loadBefore} before, ${loadAfter} after`,
    );
    console.log(
      `${'scenario'.padEnd(40)} ${'pps'.padStart(10)} ${'baseline'.padStart(10)}  ratio   per-CPU  (every round's ratio)`,
    );
    for (const r of rows)
      console.log(
        `${r.label.padEnd(40)} ${fmt(r.pps).padStart(10)} ${fmt(r.basePps).padStart(10)}  ${r.ratio.toFixed(3)}x  ${r.cpuRatio.toFixed(3)}x  (${r.ratios.map((x) => x.toFixed(3)).join(' ')})${r.note ? `   ${r.note}` : ''}`,
      );
    console.log(
      'per-CPU: baseline / scenario sender CPU time per packet (iperf3 client + ksoftirqd/0), the ratio of packets per CPU-second: what the pps ratio would be with the CPUs to themselves',
    );
    const goal = rows.find((r) => r.label.includes('10,002') && !r.label.includes('(tc)'));
    if (goal)
      console.log(
        `Goal >= 0.90x at 10k entries: ${goal.ratio.toFixed(3)}x (${goal.ratios.filter((x) => x >= 0.9).length} of ${goal.ratios.length} rounds >= 0.90)`,
      );
    console.log(
      `\nProgram time per packet (BPF_PROG_TEST_RUN, established UDP packet, ${fmt(TEST_RUNS)} runs; includes the test harness's own ~25-30 ns): ${progCost}`,
    );
    console.log(
      `\nMap updates through the addon (policy map, ${fmt(N)} entries): batched ${fmt(batched)}/s; one call per entry ${fmt(single)}/s (${(batched / single).toFixed(1)}x)`,
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
