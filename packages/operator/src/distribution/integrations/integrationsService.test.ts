import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { Evaluator, feedEngine, parseObject } from '@palisade/core';
import type { IdentityEvent__Output, IntegrationsClient } from '@palisade/api';
import { makeTestPki, type TestPki } from './testPki.js';
import {
  call,
  FakeOperator,
  FORBIDDEN_TOKEN,
  GOOD_TOKEN,
  startTestServer,
  type TestServer,
} from './testServer.js';
import { SCENARIO_PODS, SCENARIO_PORTS, scenarioEngine, scenarioYaml } from './testScenario.js';
import { pod } from '@palisade/core/testing';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../../../cli/dist/main.js', import.meta.url));

function isServiceError(e: unknown): e is grpc.ServiceError {
  return e instanceof Error && typeof (e as Partial<grpc.ServiceError>).code === 'number';
}

async function refused(p: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isServiceError(e), `expected a gRPC error, got ${String(e)}`);
    assert.equal(
      e.code,
      code,
      `code ${grpc.status[e.code]} (${e.details}), expected ${grpc.status[code]}`,
    );
    if (details) assert.match(e.details, details);
    return true;
  });
}

describe('Integrations API over TLS', () => {
  let pki: TestPki;
  let op: FakeOperator;
  let srv: TestServer;
  let client: IntegrationsClient;
  let scenarioFile: string;

  before(async () => {
    pki = makeTestPki();
    scenarioFile = join(pki.dir, 'scenario.yaml');
    writeFileSync(scenarioFile, scenarioYaml());
    op = new FakeOperator(scenarioEngine());
    srv = await startTestServer(op, pki, { watch: { maxBacklog: 1000 } });
    client = srv.client(GOOD_TOKEN);
  });
  after(async () => {
    await srv.stop();
    pki.cleanup();
  });

  it('ListIdentities lists every identity with the revision, and filters by labels', async () => {
    const all = await call(client.listIdentities.bind(client), {});
    assert.equal(all.revision, op.rev);
    assert.deepEqual(
      all.identities.map((i) => i.id),
      [...op.engine()!.compiled.identities.keys()].sort((a, b) => a - b),
    );
    assert.ok(all.identities.some((i) => i.id === 2 && i.labels.includes('reserved:world')));

    const web = await call(client.listIdentities.bind(client), { labelFilter: ['k8s:app=web'] });
    assert.equal(web.identities.length, 1);
    assert.ok(web.identities[0]!.labels.includes('meta:namespace=prod'));

    const teams = await call(client.listIdentities.bind(client), { labelFilter: ['ns:team'] });
    assert.equal(teams.identities.length, 4, 'one identity per pod, each with a team label');
    const devB = await call(client.listIdentities.bind(client), {
      labelFilter: ['ns:team=b', 'meta:namespace=dev'],
    });
    assert.equal(devB.identities.length, 2);

    await refused(
      call(client.listIdentities.bind(client), { labelFilter: ['app=web'] }),
      grpc.status.INVALID_ARGUMENT,
      /label_filter\[0\]/,
    );
  });

  it('GetEndpointPolicy answers by pod and by identity, NOT_FOUND otherwise', async () => {
    const byPod = await call(client.getEndpointPolicy.bind(client), { pod: 'prod/web' });
    assert.deepEqual(byPod.pods, ['prod/web']);
    assert.equal(byPod.ingressIsolated, true);
    assert.equal(byPod.egressIsolated, false);
    const rules = new Set(byPod.entries.flatMap((e) => e.rules));
    assert.ok(
      rules.has('PalisadeNetworkPolicy/prod/web-ingress:spec.ingress[0]'),
      [...rules].join(),
    );
    assert.ok(
      rules.has('PalisadeNetworkPolicy/prod/web-ingress:spec.ingressDeny[0]'),
      [...rules].join(),
    );
    assert.ok(byPod.entries.every((e) => e.key?.subject === byPod.identity?.id));
    assert.ok(byPod.entries.every((e) => e.key?.direction === 'DIRECTION_INGRESS'));
    assert.ok(byPod.entries.some((e) => e.verdict === 'VERDICT_DENY'));
    assert.ok(byPod.entries.some((e) => e.key?.protocol === 1 && e.key.port === 8));

    const byId = await call(client.getEndpointPolicy.bind(client), {
      identity: byPod.identity!.id,
    });
    assert.deepEqual(byId, byPod);

    const client2 = await call(client.getEndpointPolicy.bind(client), { pod: 'dev/client' });
    assert.equal(client2.egressIsolated, true);
    assert.equal(client2.ingressIsolated, false);

    await refused(
      call(client.getEndpointPolicy.bind(client), { pod: 'prod/nope' }),
      grpc.status.NOT_FOUND,
      /prod\/nope/,
    );
    await refused(
      call(client.getEndpointPolicy.bind(client), { identity: 4_000_000 }),
      grpc.status.NOT_FOUND,
      /identity 4000000 is not in use/,
    );
    await refused(
      call(client.getEndpointPolicy.bind(client), {}),
      grpc.status.INVALID_ARGUMENT,
      /target/,
    );
    await refused(
      call(client.getEndpointPolicy.bind(client), { pod: 'web' }),
      grpc.status.INVALID_ARGUMENT,
      /namespace\/name/,
    );
  });

  it('Simulate agrees with the core evaluator on every pod pair and port', async () => {
    // An independent compile of the same objects, evaluated directly.
    const engine = scenarioEngine();
    const ev = new Evaluator(engine.compiled);
    const ip = (pod: string): string => engine.compiled.endpoints.get(pod)!.ips[0]!;
    let allows = 0;
    for (const from of SCENARIO_PODS)
      for (const to of SCENARIO_PODS) {
        if (from === to) continue;
        for (const p of SCENARIO_PORTS) {
          const got = await call(client.simulate.bind(client), { from, to, ...p });
          const want = ev.evaluate({
            src: ip(from),
            dst: ip(to),
            protocol: p.protocol,
            dstPort: p.port,
          });
          const what = `${from} → ${to} ${p.port}/${p.protocol}`;
          assert.equal(got.verdict, want.verdict, what);
          assert.deepEqual(got.egressRules, [...(want.egress?.value?.rules ?? [])], what);
          assert.deepEqual(got.ingressRules, [...(want.ingress?.value?.rules ?? [])], what);
          assert.equal(got.fromIdentity, op.engine()!.compiled.endpoints.get(from)!.identity, what);
          assert.equal(got.toIdentity, op.engine()!.compiled.endpoints.get(to)!.identity, what);
          if (got.verdict === 'allow') allows++;
        }
      }
    assert.ok(allows > 0 && allows < 48, `a scenario with both verdicts (${allows} allows of 48)`);
  });

  it('Simulate says what `palisade policy simulate` and `policy explain` say', async (t) => {
    if (!existsSync(CLI)) {
      t.skip(`the CLI is not built (${CLI}): run \`npx tsc -b packages/cli\``);
      return;
    }
    const portArgs = SCENARIO_PORTS.flatMap((p) => ['--port', `${p.port}/${p.protocol}`]);
    const { stdout } = await run(process.execPath, [
      CLI,
      'policy',
      'simulate',
      '-f',
      scenarioFile,
      ...portArgs,
      '-o',
      'json',
    ]);
    const results = (
      JSON.parse(stdout) as {
        results: { from: string; to: string; port: number; protocol: string; verdict: string }[];
      }
    ).results;
    assert.equal(results.length, 48);
    for (const r of results) {
      const got = await call(client.simulate.bind(client), {
        from: r.from,
        to: r.to,
        port: r.port,
        protocol: r.protocol,
      });
      assert.equal(got.verdict, r.verdict, `${r.from} → ${r.to} ${r.port}/${r.protocol}`);
    }
    // The reason is explain's text (identity numbers aside: each compile numbers its own).
    const numbers = (s: string): string => s.replace(/identity \d+/g, 'identity N');
    for (const [from, to, port] of [
      ['dev/client', 'prod/web', '80/TCP'],
      ['dev/tool', 'prod/web', '80/TCP'],
      ['prod/db', 'prod/web', '8/ICMP'],
      ['dev/client', 'dev/tool', '53/UDP'],
      ['prod/web', 'prod/db', '5432/TCP'],
    ] as const) {
      const ex = await run(process.execPath, [
        CLI,
        'policy',
        'explain',
        '-f',
        scenarioFile,
        '--from',
        from,
        '--to',
        to,
        '--port',
        port,
        '-o',
        'json',
      ]);
      const explained = JSON.parse(ex.stdout) as { verdict: string; sides: { text: string }[] };
      const [n, proto] = port.split('/') as [string, string];
      const got = await call(client.simulate.bind(client), {
        from,
        to,
        port: Number(n),
        protocol: proto,
      });
      assert.equal(got.verdict, explained.verdict);
      assert.equal(numbers(got.reason), numbers(explained.sides.map((s) => s.text).join('; ')));
    }
  });

  it('Simulate names the rules, takes IP addresses and refuses bad input', async () => {
    const allowed = await call(client.simulate.bind(client), {
      from: 'dev/client',
      to: 'prod/web',
      protocol: 'TCP',
      port: 80,
    });
    assert.equal(allowed.verdict, 'allow');
    assert.deepEqual(allowed.egressRules, [
      'PalisadeNetworkPolicy/dev/client-egress:spec.egress[0]',
    ]);
    assert.deepEqual(allowed.ingressRules, [
      'PalisadeNetworkPolicy/prod/web-ingress:spec.ingress[0]',
    ]);

    const denied = await call(client.simulate.bind(client), {
      from: 'dev/tool',
      to: 'prod/web',
      protocol: 'tcp',
      port: 80,
    });
    assert.equal(denied.verdict, 'deny');
    assert.deepEqual(denied.ingressRules, [
      'PalisadeNetworkPolicy/prod/web-ingress:spec.ingressDeny[0]',
    ]);
    assert.match(
      denied.reason,
      /denied by PalisadeNetworkPolicy prod\/web-ingress spec\.ingressDeny\[0\] \(deny beats allow\)/,
    );

    const isolated = await call(client.simulate.bind(client), {
      from: 'prod/db',
      to: 'prod/web',
      protocol: 'TCP',
      port: 80,
    });
    assert.equal(isolated.verdict, 'deny');
    assert.match(
      isolated.reason,
      /isolated for ingress by PalisadeNetworkPolicy prod\/web-ingress/,
    );

    const dns = await call(client.simulate.bind(client), {
      from: 'dev/client',
      to: '8.8.8.8',
      protocol: 'UDP',
      port: 53,
    });
    assert.equal(dns.verdict, 'allow');
    assert.deepEqual(dns.egressRules, ['PalisadeNetworkPolicy/dev/client-egress:spec.egress[1]']);
    assert.notEqual(dns.toIdentity, 2, 'a policy CIDR gets its own identity');
    const other = await call(client.simulate.bind(client), {
      from: 'dev/client',
      to: '1.1.1.1',
      protocol: 'UDP',
      port: 53,
    });
    assert.equal(other.verdict, 'deny');
    assert.equal(other.toIdentity, 2, 'world');
    const inbound = await call(client.simulate.bind(client), {
      from: '1.1.1.1',
      to: 'prod/db',
      protocol: 'TCP',
      port: 5432,
    });
    assert.equal(inbound.verdict, 'deny');
    assert.equal(inbound.fromIdentity, 2);

    const bad = (req: object, details: RegExp): Promise<void> =>
      refused(call(client.simulate.bind(client), req), grpc.status.INVALID_ARGUMENT, details);
    await bad(
      { from: 'dev/client', to: 'prod/web', protocol: 'FOO', port: 80 },
      /expected TCP, UDP or SCTP/,
    );
    await bad({ from: 'dev/client', to: 'prod/web', protocol: '', port: 80 }, /protocol/);
    await bad({ from: 'dev/client', to: 'prod/web', protocol: 'TCP', port: 0 }, /port/);
    await bad({ from: 'dev/client', to: 'prod/web', protocol: 'TCP', port: 70000 }, /port/);
    await bad({ from: 'dev/client', to: 'prod/web', protocol: 'ICMP', port: 300 }, /type 0–255/);
    await bad(
      { from: 'not a pod', to: 'prod/web', protocol: 'TCP', port: 80 },
      /from: "not a pod" is neither/,
    );
    await bad({ from: 'dev/client', to: 'fd00::1', protocol: 'TCP', port: 80 }, /family/);
    await refused(
      call(client.simulate.bind(client), {
        from: 'dev/client',
        to: 'prod/gone',
        protocol: 'TCP',
        port: 80,
      }),
      grpc.status.NOT_FOUND,
      /to: pod prod\/gone/,
    );
  });

  it('ListPolicyStatus answers the realization, sorted by policy', async () => {
    op.statuses = [
      {
        policy: 'PalisadeNetworkPolicy/prod/web-ingress',
        nodesRealized: 2,
        nodesDesired: 3,
        revision: 7,
      },
      { policy: 'NetworkPolicy/prod/db-from-web', nodesRealized: 3, nodesDesired: 3, revision: 5 },
    ];
    const res = await call(client.listPolicyStatus.bind(client), {});
    assert.deepEqual(res.policies, [
      { policy: 'NetworkPolicy/prod/db-from-web', nodesRealized: 3, nodesDesired: 3, revision: 5 },
      {
        policy: 'PalisadeNetworkPolicy/prod/web-ingress',
        nodesRealized: 2,
        nodesDesired: 3,
        revision: 7,
      },
    ]);
  });

  it('passes authorize refusals through on every RPC, watches included', async () => {
    for (const [token, code] of [
      [undefined, grpc.status.UNAUTHENTICATED],
      [FORBIDDEN_TOKEN, grpc.status.PERMISSION_DENIED],
    ] as const) {
      const c = srv.client(token);
      await refused(call(c.listIdentities.bind(c), {}), code);
      await refused(call(c.getEndpointPolicy.bind(c), { pod: 'prod/web' }), code);
      await refused(
        call(c.simulate.bind(c), { from: 'dev/client', to: 'prod/web', protocol: 'TCP', port: 80 }),
        code,
      );
      await refused(call(c.listPolicyStatus.bind(c), {}), code);
      await refused(
        new Promise((resolve, reject) => {
          const s = c.watchIdentities({});
          s.on('data', () => reject(new Error('a refused watch sent data')));
          s.on('error', reject);
          s.on('end', resolve);
        }),
        code,
        token ? /may not list securityidentities/ : /no bearer token/,
      );
    }
  });

  it('a standby answers UNAVAILABLE naming the leader', async () => {
    const standby = new FakeOperator(undefined);
    standby.leaderName = 'palisade-operator-1';
    const s = await startTestServer(standby, pki);
    try {
      const c = s.client(GOOD_TOKEN);
      await refused(
        call(c.listIdentities.bind(c), {}),
        grpc.status.UNAVAILABLE,
        /not the leader; leader is palisade-operator-1/,
      );
      await refused(
        call(c.simulate.bind(c), { from: 'a/b', to: 'c/d', protocol: 'TCP', port: 1 }),
        grpc.status.UNAVAILABLE,
      );
    } finally {
      await s.stop();
    }
  });

  it('WatchIdentities sends the initial list, then an add and a remove, and unsubscribes on cancel', async () => {
    const engine = op.engine()!;
    const stream = client.watchIdentities({});
    const events: IdentityEvent__Output[] = [];
    const waiters: { n: number; resolve: () => void }[] = [];
    stream.on('data', (e: IdentityEvent__Output) => {
      events.push(e);
      for (const w of waiters) if (events.length >= w.n) w.resolve();
    });
    stream.on('error', () => undefined); // the cancel below ends it with CANCELLED
    const until = (n: number): Promise<void> =>
      events.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve }));

    const initialCount = engine.compiled.identities.size;
    await until(initialCount + 1);
    assert.ok(
      events
        .slice(0, initialCount)
        .every((e) => e.type === 'TYPE_INITIAL' && e.revision === op.rev),
    );
    assert.deepEqual(
      events.slice(0, initialCount).map((e) => e.identity!.id),
      [...engine.compiled.identities.keys()].sort((a, b) => a - b),
    );
    assert.equal(events[initialCount]!.type, 'TYPE_INITIAL_DONE');
    assert.equal(op.listeners.size, 1);

    feedEngine(engine, [parseObject(pod('dev', 'fresh', { app: 'fresh' }, '10.2.0.99'))]);
    op.flush();
    await until(initialCount + 2);
    const added = events[initialCount + 1]!;
    assert.equal(added.type, 'TYPE_ADDED');
    assert.equal(added.revision, op.rev);
    assert.ok(added.identity!.labels.includes('k8s:app=fresh'));

    engine.deletePod('dev', 'fresh');
    op.flush();
    await until(initialCount + 3);
    const removed = events[initialCount + 2]!;
    assert.equal(removed.type, 'TYPE_REMOVED');
    assert.deepEqual(
      removed.identity,
      added.identity,
      'a removal names the identity and its labels',
    );

    stream.cancel();
    for (let i = 0; i < 100 && op.listeners.size > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(op.listeners.size, 0, 'the watch unsubscribed');
  });
});
