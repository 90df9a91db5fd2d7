// Privileged: runs two probe agents in two network namespaces joined by a veth pair and checks
// every command with real traffic. Skips itself when not root or when the agent is unavailable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ProbeAgent, ProbeAgentError, defaultAgentPath, type ProbeProtocol } from './probeAgent.js';

const NS_A = `pal-agt-${process.pid}-a`;
const NS_B = `pal-agt-${process.pid}-b`;
const NS_C = `pal-agt-${process.pid}-c`; // exists but nobody runs an agent there
const VETH_A = `pa${process.pid}a`;
const VETH_B = `pa${process.pid}b`;
const A4 = '10.123.0.1';
const B4 = '10.123.0.2';
const A6 = 'fd00:123::1';
const B6 = 'fd00:123::2';
const BOGUS_MAC = '02:00:00:00:00:01';

const TCP = 8080;
const UDP = 5353;
const SCTP = 9999;

let buildDir: string | undefined;

/** The agent binary: $PALISADE_PROBE_AGENT, the built one, or one built now from agent/build.sh. */
function findAgent(): string | { skip: string } {
  const env = process.env['PALISADE_PROBE_AGENT'];
  if (env) return existsSync(env) ? env : { skip: `PALISADE_PROBE_AGENT=${env} does not exist` };
  const built = defaultAgentPath();
  if (existsSync(built)) return built;
  const script = fileURLToPath(new URL('../../agent/build.sh', import.meta.url));
  if (!existsSync(script)) return { skip: `no agent at ${built} and no ${script} to build one` };
  buildDir = mkdtempSync(join(tmpdir(), 'pal-agent-'));
  const r = spawnSync('sh', [script, buildDir], { encoding: 'utf8' });
  if (r.status !== 0)
    return { skip: `cannot build the probe agent: ${r.stderr || String(r.error)}` };
  return join(buildDir, 'palisade-probe-agent');
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, raw sockets)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'needs iproute2 (`ip`)';
  return undefined;
}

const skip = skipReason();
const agentPath = skip === undefined ? findAgent() : { skip };

function sh(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || String(r.error)}`);
}

let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const ns of [NS_A, NS_B, NS_C]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
}

function txPackets(ns: string, dev: string): number {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/statistics/tx_packets`],
    {
      encoding: 'utf8',
    },
  );
  return Number(r.stdout.trim());
}

/** Makes A send everything for B to a MAC nobody has: B's NIC discards it, silently. */
function dropAtoB(on: boolean): void {
  for (const ip of [B4, B6]) {
    if (on)
      sh(
        '-n',
        NS_A,
        'neigh',
        'replace',
        ip,
        'lladdr',
        BOGUS_MAC,
        'dev',
        VETH_A,
        'nud',
        'permanent',
      );
    else sh('-n', NS_A, 'neigh', 'del', ip, 'dev', VETH_A);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(
  'probe agent (privileged)',
  { skip: typeof agentPath === 'string' ? false : agentPath.skip },
  () => {
    let a: ProbeAgent;
    let b: ProbeAgent;

    before(async () => {
      process.on('exit', cleanup);
      sh('netns', 'add', NS_A);
      sh('netns', 'add', NS_B);
      sh('netns', 'add', NS_C);
      sh(
        'link',
        'add',
        VETH_A,
        'netns',
        NS_A,
        'type',
        'veth',
        'peer',
        'name',
        VETH_B,
        'netns',
        NS_B,
      );
      for (const [ns, dev, v4, v6] of [
        [NS_A, VETH_A, A4, A6],
        [NS_B, VETH_B, B4, B6],
      ] as const) {
        sh('-n', ns, 'link', 'set', 'lo', 'up');
        sh('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev);
        sh('-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
        sh('-n', ns, 'link', 'set', dev, 'up');
      }
      a = await ProbeAgent.start(NS_A, agentPath as string);
      b = await ProbeAgent.start(NS_B, agentPath as string);
      // A fresh veth drops packets until link watch activates its queue: wait for pings.
      for (const dst of [B4, B6]) {
        let ok = false;
        for (let i = 0; i < 50 && !ok; i++)
          ok = (await a.probe('icmp', dst, 0, { timeoutMs: 100 })).ok;
        assert.ok(ok, `link to ${dst} never came up`);
      }
    });

    after(async () => {
      await Promise.allSettled([a?.close(), b?.close()]);
      cleanup();
    });

    it('start() fails clearly for an unknown namespace', async () => {
      await assert.rejects(
        ProbeAgent.start(`pal-agt-${process.pid}-none`, agentPath as string),
        (e: unknown) => e instanceof ProbeAgentError && e.code === 'exited',
      );
    });

    it('reports unserved ports: tcp refused, udp and sctp time out (no raw SCTP socket yet)', async () => {
      for (const dst of [B4, B6]) {
        assert.deepEqual(await a.probe('tcp', dst, TCP, { timeoutMs: 500 }), {
          ok: false,
          error: 'refused',
        });
        assert.deepEqual(await a.probe('udp', dst, UDP, { timeoutMs: 300 }), {
          ok: false,
          error: 'timeout',
        });
        // B's kernel has no SCTP: it answers ICMP protocol unreachable, which the probe ignores.
        assert.deepEqual(await a.probe('sctp', dst, SCTP, { timeoutMs: 300 }), {
          ok: false,
          error: 'timeout',
        });
      }
    });

    it('serves and answers every protocol on both families, both ways at the same time', async () => {
      for (const agent of [a, b]) {
        await agent.serve('tcp', TCP);
        await agent.serve('udp', UDP);
        await agent.serve('sctp', SCTP);
        await agent.serve('tcp', TCP); // idempotent
      }
      const protos: [ProbeProtocol, number][] = [
        ['tcp', TCP],
        ['udp', UDP],
        ['sctp', SCTP],
        ['icmp', 0],
        ['icmp', 4242],
      ];
      const run = async (from: ProbeAgent, dsts: string[]) => {
        const out: string[] = [];
        for (const dst of dsts) {
          for (const [proto, port] of protos) {
            const r = await from.probe(proto, dst, port, { timeoutMs: 1000 });
            if (!r.ok || typeof r.ms !== 'number')
              out.push(`${from.netns} ${proto} ${dst}:${port} ${JSON.stringify(r)}`);
          }
        }
        return out;
      };
      const failures = (await Promise.all([run(a, [B4, B6]), run(b, [A4, A6])])).flat();
      assert.deepEqual(failures, []);
    });

    it('answers probes to itself over loopback', async () => {
      for (const dst of ['127.0.0.1', '::1']) {
        for (const [proto, port] of [
          ['tcp', TCP],
          ['udp', UDP],
          ['sctp', SCTP],
          ['icmp', 0],
        ] as const) {
          const r = await a.probe(proto, dst, port, { timeoutMs: 1000 });
          assert.ok(r.ok, `${proto} ${dst}: ${JSON.stringify(r)}`);
        }
      }
    });

    it('binds the requested source port, repeatedly', async () => {
      for (const dst of [B4, B6]) {
        for (let i = 0; i < 3; i++) {
          for (const proto of ['tcp', 'udp', 'sctp'] as const) {
            const r = await a.probe(
              proto,
              dst,
              proto === 'tcp' ? TCP : proto === 'udp' ? UDP : SCTP,
              {
                timeoutMs: 1000,
                srcPort: 40000 + i,
              },
            );
            assert.ok(r.ok, `${proto} ${dst} from 40000+${i}: ${JSON.stringify(r)}`);
          }
        }
      }
    });

    it('does not ping-pong SCTP between two responders serving each other', async () => {
      // A:SCTP -> B:SCTP; both serve SCTP, so the INIT ACK is addressed to a served port too.
      const r = await a.probe('sctp', B4, SCTP, { timeoutMs: 1000, srcPort: SCTP });
      assert.ok(r.ok, JSON.stringify(r));
      await sleep(100);
      const t0 = txPackets(NS_A, VETH_A);
      await sleep(300);
      assert.ok(txPackets(NS_A, VETH_A) - t0 <= 2, 'A keeps sending packets');
    });

    it('still times out on served sctp/udp ports nobody serves, and tcp is refused', async () => {
      for (const dst of [B4, B6]) {
        assert.equal((await a.probe('tcp', dst, TCP + 1, { timeoutMs: 500 })).error, 'refused');
        assert.equal((await a.probe('udp', dst, UDP + 1, { timeoutMs: 300 })).error, 'timeout');
        assert.equal((await a.probe('sctp', dst, SCTP + 1, { timeoutMs: 300 })).error, 'timeout');
      }
    });

    it('times out when packets are dropped, and recovers', async () => {
      dropAtoB(true);
      try {
        for (const dst of [B4, B6]) {
          for (const [proto, port] of [
            ['tcp', TCP],
            ['udp', UDP],
            ['sctp', SCTP],
            ['icmp', 0],
          ] as const) {
            assert.deepEqual(
              await a.probe(proto, dst, port, { timeoutMs: 300 }),
              { ok: false, error: 'timeout' },
              `${proto} ${dst}`,
            );
          }
        }
      } finally {
        dropAtoB(false);
      }
      for (const dst of [B4, B6])
        assert.ok((await a.probe('tcp', dst, TCP, { timeoutMs: 1000 })).ok);
    });

    it('streams over one flow and counts echoes, both ways at once', async () => {
      const [r1, r2] = await Promise.all([
        a.stream('udp', B4, UDP, { count: 300, intervalUs: 500 }),
        b.stream('udp', A6, UDP, { count: 300, intervalUs: 500 }),
      ]);
      const [r3, r4] = await Promise.all([
        a.stream('tcp', B6, TCP, { count: 300, intervalUs: 0 }),
        b.stream('tcp', A4, TCP, { count: 200, intervalUs: 100 }),
      ]);
      assert.deepEqual(r1, { ok: true, sent: 300, received: 300, lost: [] });
      assert.deepEqual(r2, { ok: true, sent: 300, received: 300, lost: [] });
      assert.deepEqual(r3, { ok: true, sent: 300, received: 300, lost: [] });
      assert.deepEqual(r4, { ok: true, sent: 200, received: 200, lost: [] });
    });

    it('reports the messages lost while a udp stream was dropped', async () => {
      const pending = a.stream('udp', B4, UDP, { count: 400, intervalUs: 1000, timeoutMs: 300 });
      await sleep(100);
      dropAtoB(true);
      await sleep(100);
      dropAtoB(false);
      const r = await pending;
      assert.equal(r.ok, true);
      assert.equal(r.sent, 400);
      assert.ok(r.received > 0 && r.received < 400, JSON.stringify(r));
      assert.ok(r.lost.length > 0);
    });

    it('reports a tcp reset mid-stream', async () => {
      const c = await ProbeAgent.start(NS_B, agentPath as string);
      try {
        await c.serve('tcp', 7070);
        const pending = a.stream('tcp', B4, 7070, { count: 2000, intervalUs: 1000 });
        await sleep(300);
        await c.close(); // its sockets close: FIN, then RST for the data that keeps coming
        const r = await pending;
        assert.equal(r.ok, false);
        assert.match(r.error ?? '', /^reset after \d+$/);
        assert.ok(r.received > 0 && r.received < 2000, JSON.stringify(r));
      } finally {
        await c.close();
      }
    });

    it('floods and counts udp datagrams', async () => {
      await b.count('udp', 6000);
      const f4 = await a.flood('udp', B4, 6000, { seconds: 0.5, payloadBytes: 64 });
      const f6 = await a.flood('udp', B6, 6000, { seconds: 0.2, payloadBytes: 1000 });
      assert.ok(f4.sent > 1000 && f6.sent > 100, JSON.stringify([f4, f6]));
      await sleep(200);
      const n = await b.counted(6000);
      assert.ok(n > 0 && n <= f4.sent + f6.sent, `${n} of ${f4.sent + f6.sent}`);
      // counting ports do not echo
      assert.equal((await a.probe('udp', B4, 6000, { timeoutMs: 200 })).error, 'timeout');
      await b.count('udp', 6000); // restarts at 0
      assert.equal(await b.counted(6000), 0);
      await assert.rejects(
        b.counted(UDP),
        (e: unknown) => e instanceof ProbeAgentError && e.code === 'command',
      );
    });

    it('queues concurrent callers and keeps going after bad commands', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          a.probe(i % 2 ? 'udp' : 'tcp', i % 3 ? B4 : B6, i % 2 ? UDP : TCP, { timeoutMs: 1000 }),
        ),
      );
      assert.ok(
        results.every((r) => r.ok),
        JSON.stringify(results),
      );
      assert.match(
        (await a.probe('tcp', '10.1', TCP, { timeoutMs: 100 })).error ?? '',
        /bad address/,
      );
      await assert.rejects(
        a.serve('tcp', 0),
        (e: unknown) => e instanceof ProbeAgentError && e.code === 'invalid',
      );
      await assert.rejects(
        a.probe('tcp', 'x\nquit', TCP, { timeoutMs: 100 }),
        (e: unknown) => e instanceof ProbeAgentError && e.code === 'invalid',
      );
      assert.ok((await a.probe('icmp', B4, 0, { timeoutMs: 1000 })).ok);
    });

    it('close() is idempotent and later commands are rejected', async () => {
      const c = await ProbeAgent.start(NS_C, agentPath as string);
      await c.close();
      await c.close();
      await assert.rejects(
        c.probe('icmp', '127.0.0.1', 0, { timeoutMs: 100 }),
        (e: unknown) => e instanceof ProbeAgentError && e.code === 'closed',
      );
    });
  },
);
