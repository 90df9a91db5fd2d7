/**
 * Compiler benchmark. Prints figures next to a baseline measured in the same run.
 *
 *   pnpm -s bench:compile [--scale small|large|all]
 *
 * - small: 10k pods / 1k namespaces / 1k policies (everyday scale) + one change → delta
 *   latency (p50/p99 over 1,000 changes of different kinds).
 * - large: 100k pods / 25k namespaces / 75k NetworkPolicies, the shape of Antrea's
 *   published controller benchmark (4 pods and 3 policies per namespace; Antrea: ~6 s,
 *   ~1.6 GB). Goal: ≤ 6 s, ≤ 1.6 GB heap.
 *
 * Baseline: normalising the same objects (schema parse + validation, no compile) — the
 * work any controller does before compiling — so "compile / baseline" is comparable
 * across machines.
 */
import { performance } from 'node:perf_hooks';
import { InMemoryAllocator } from '../identity/allocator.js';
import { feedEngine } from '../objects/feedEngine.js';
import { parseObject } from '../objects/parseObject.js';
import { PolicyEngine } from '../compiler/engine.js';
import { deltaSize, policyEntryCount } from '../compiler/compiledState.js';

interface Scale {
  readonly name: string;
  readonly namespaces: number;
  readonly podsPerNs: number;
  readonly policiesPerNs: number;
}

const SCALES: Record<string, Scale> = {
  small: {
    name: '10k pods / 1k namespaces / 1k policies',
    namespaces: 1000,
    podsPerNs: 10,
    policiesPerNs: 1,
  },
  large: {
    name: '100k pods / 25k namespaces / 75k NetworkPolicies',
    namespaces: 25000,
    podsPerNs: 4,
    policiesPerNs: 3,
  },
};

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function heapMiB(): number {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function objects(s: Scale): unknown[] {
  const out: unknown[] = [];
  let ip = 0;
  for (let n = 0; n < s.namespaces; n++) {
    const ns = `ns-${n}`;
    out.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { team: `t${n % 50}` } },
    });
    for (let p = 0; p < s.podsPerNs; p++) {
      const i = ip++;
      out.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          namespace: ns,
          name: `pod-${p}`,
          labels: { app: `app-${p % 4}`, 'pod-template-hash': `h${i}` },
        },
        spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
        status: { podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
      });
    }
    for (let k = 0; k < s.policiesPerNs; k++) {
      out.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { namespace: ns, name: `np-${k}` },
        spec: {
          podSelector: { matchLabels: { app: `app-${k % 4}` } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [
            {
              from: [{ podSelector: { matchLabels: { app: `app-${(k + 1) % 4}` } } }],
              ports: [{ port: 'http' }, { port: 9000, endPort: 9100 }],
            },
          ],
          egress: [
            {
              to: [{ podSelector: { matchLabels: { app: `app-${(k + 2) % 4}` } } }],
              ports: [{ protocol: 'TCP', port: 8080 }],
            },
          ],
        },
      });
    }
  }
  return out;
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 1 ? 3 : 1)} ms`;
}

function runScale(s: Scale, changes: boolean): void {
  console.log(`\n== ${s.name}`);
  const objs = objects(s);
  const h0 = heapMiB();
  let t = performance.now();
  const parsed = objs.map((o) => parseObject(o));
  const baseline = performance.now() - t;
  const engine = new PolicyEngine({ numbering: new InMemoryAllocator() });
  t = performance.now();
  feedEngine(engine, parsed);
  const d = engine.flush();
  const compile = performance.now() - t;
  const h1 = heapMiB();
  const st = engine.compiled;
  console.log(`baseline  normalise ${objs.length} objects:        ${fmt(baseline)}`);
  console.log(
    `compile   full (upserts + flush):           ${fmt(compile)}   (${(compile / baseline).toFixed(2)}× baseline)`,
  );
  console.log(`heap      engine + state (after GC):        ${(h1 - h0).toFixed(0)} MiB`);
  console.log(
    `output    ${st.identities.size} identities, ${st.ipcache.size} ipcache, ${st.endpoints.size} endpoints, ${policyEntryCount(st)} policy entries (${deltaSize(d)} in the first delta)`,
  );
  if (s.podsPerNs * s.namespaces >= 100000)
    console.log(`target    ≤ 6 s and ≤ 1.6 GB (Antrea's published figures for this shape)`);
  if (!changes) return;
  // One change → delta: cycle through kinds of change, measure each flush separately.
  const lat: Record<string, number[]> = {
    'pod relabel': [],
    'pod add': [],
    'pod delete': [],
    'policy update': [],
    'namespace relabel': [],
  };
  const rnd = mulberry32(42);
  for (let i = 0; i < 1000; i++) {
    const n = Math.floor(rnd() * s.namespaces);
    const ns = `ns-${n}`;
    const kind = Object.keys(lat)[i % 5] as string;
    const ops: (() => void)[] = [];
    switch (kind) {
      case 'pod relabel':
        ops.push(() =>
          engine.upsertPod({
            namespace: ns,
            name: 'pod-0',
            labels: { app: `app-${1 + (i % 3)}` },
            serviceAccount: 'default',
            ips: [`10.200.${n >> 8}.${n & 255}`],
            namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
            hostNetwork: false,
          }),
        );
        break;
      case 'pod add':
        ops.push(() =>
          engine.upsertPod({
            namespace: ns,
            name: `extra-${i}`,
            labels: { app: 'app-1' },
            serviceAccount: 'default',
            ips: [`10.201.${i >> 8}.${i & 255}`],
            namedPorts: [],
            hostNetwork: false,
          }),
        );
        break;
      case 'pod delete':
        ops.push(() => engine.deletePod(ns, `pod-${1 + (i % 3)}`));
        break;
      case 'policy update': {
        const p = parseObject({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { namespace: ns, name: 'np-0' },
          spec: {
            podSelector: { matchLabels: { app: 'app-0' } },
            ingress: [
              {
                from: [{ podSelector: { matchLabels: { app: `app-${i % 4}` } } }],
                ports: [{ port: 80 + (i % 7) }],
              },
            ],
          },
        });
        if (p.kind === 'Policy') ops.push(() => engine.upsertPolicy(p.policy));
        break;
      }
      case 'namespace relabel':
        ops.push(() => engine.upsertNamespace({ name: ns, labels: { team: `t${i}` } }));
        break;
    }
    const t0 = performance.now();
    for (const op of ops) op();
    engine.flush();
    lat[kind]!.push(performance.now() - t0);
  }
  const all = Object.values(lat).flat();
  console.log(
    `one change → delta over ${all.length} changes:  p50 ${fmt(pct(all, 0.5))}, p99 ${fmt(pct(all, 0.99))}, max ${fmt(Math.max(...all))}   (goal: p99 ≤ 5 ms)`,
  );
  for (const [k, xs] of Object.entries(lat))
    console.log(`  ${k.padEnd(18)} p50 ${fmt(pct(xs, 0.5))}  p99 ${fmt(pct(xs, 0.99))}`);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const arg = process.argv.indexOf('--scale');
const which = arg > 0 ? process.argv[arg + 1] : 'all';
if (!(globalThis as { gc?: unknown }).gc)
  console.log('(run with --expose-gc for heap figures after GC)');
if (which === 'small' || which === 'all') runScale(SCALES['small']!, true);
if (which === 'large' || which === 'all') runScale(SCALES['large']!, true);
