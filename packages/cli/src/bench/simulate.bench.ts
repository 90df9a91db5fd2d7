/**
 * `policy simulate` over the 9-pod upstream model (3 namespaces × 3 pods, 6 ports), with
 * a policy set from the upstream scenarios. Prints, next to a baseline measured in the same run:
 * - in-process: load + compile + evaluate all 432 flows (median of 20 runs);
 * - end to end: the `palisade` process, wall time (median of 10), against `node -e ''`.
 *
 *   pnpm -s bench:simulate
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadObjects } from '../load.js';
import { Simulation } from '../simulation.js';

const fixtures = fileURLToPath(new URL('../../fixtures/upstream/', import.meta.url));
const main = fileURLToPath(new URL('../main.js', import.meta.url));
const files = [
  `${fixtures}model.yaml`,
  `${fixtures}stacked-policies-overlapping-pod-selectors.yaml`,
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function time(n: number, f: () => void): number {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

// The scenario file is not a manifest; take its policies from the first step.
const objects = loadObjects([`${fixtures}model.yaml`]);
const scenario = loadObjects([files[1] as string])[0]?.object as { steps: { apply?: unknown[] }[] };
const policies = (scenario.steps[0]?.apply ?? []).map((object, i) => ({
  object,
  source: `policy ${i}`,
}));
const ports = (['TCP', 'UDP', 'SCTP'] as const).flatMap((protocol) =>
  [80, 81].map((port) => ({ port, protocol })),
);

const baselineIn = time(20, () => loadObjects([`${fixtures}model.yaml`]));
const inProcess = time(20, () => new Simulation([...objects, ...policies]).simulate(ports));
console.log(`in-process  read the model YAML (baseline):     ${baselineIn.toFixed(2)} ms`);
console.log(
  `in-process  compile + evaluate ${9 * 8 * ports.length} flows:       ${inProcess.toFixed(2)} ms  (${(inProcess / baselineIn).toFixed(1)}× baseline)`,
);

const run = (args: string[]): number =>
  time(10, () => {
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (r.status !== 0 && args.length > 1) throw new Error(r.stderr);
  });
const baselineProc = run(['-e', '']);
const cli = run([main, 'policy', 'simulate', '-f', `${fixtures}model.yaml`, '-o', 'json']);
console.log(`end to end  node -e '' (baseline):               ${baselineProc.toFixed(0)} ms`);
console.log(
  `end to end  palisade policy simulate (9 pods):   ${cli.toFixed(0)} ms  (${(cli / baselineProc).toFixed(1)}× baseline; goal: well under 1 s)`,
);
