/**
 * The 48 upstream Kubernetes NetworkPolicy e2e scenarios (packages/cli/fixtures/upstream),
 * end to end on one 2-node lab: real apiserver, operator, shims enforcing with eBPF, the
 * CNI plugin, and pods spread over both nodes.
 *
 * Proved, for every scenario and every truth table it holds: after the scenario's objects
 * are applied, relabelled and deleted with kubectl, real probes between the pods (TCP
 * connect, UDP echo, SCTP INIT, numbered and named ports) give exactly upstream's verdict
 * for every off-diagonal cell, and still do on a second pass once they agree; and
 * `policy simulate` on the objects read back from the apiserver gives the same verdicts.
 * Between scenarios the cluster is reset to the model (no policy, model labels, every pod).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Simulation } from '@palisade/cli';
import { loadScenario, type Expectation } from '@palisade/cli/testing';
import { privilegedSkipReason } from '@palisade/shim/testing';
import { Lab } from '../lab/lab.js';
import { probeAll, type LabProbePort, type LabProbeResult, type ProbePod } from '../lab/prober.js';
import { describeMismatches, probeUntil, type Expect } from '../lab/reachability.js';
import {
  MODEL_NAMESPACES,
  modelManifest,
  playStep,
  readCluster,
  resetToModel,
  scenarioFiles,
  upstreamModel,
  waitModelReady,
  type UpstreamModel,
} from './upstreamLab.js';

const skip = privilegedSkipReason();
/** How long one probe waits for its answer. */
const PROBE_TIMEOUT_MS = 400;
/** How long a truth table may take to agree (a change takes a moment to reach the kernels). */
const AGREE_DEADLINE_MS = 20_000;
const NODES = ['node-1', 'node-2'];
const FILES = scenarioFiles();

/** `policy simulate`'s verdict per `from>to` for one expectation. */
function simulated(sim: Simulation, e: Expectation): Map<string, 'allow' | 'deny'> {
  return new Map(
    sim
      .simulate([{ port: e.port, protocol: e.protocol }])
      .map((r) => [`${r.from}>${r.to}`, r.verdict]),
  );
}

/** The port a truth table is about, as the prober takes it. */
function probePort(e: Expectation): LabProbePort {
  if (e.protocol === 'ICMPv6') throw new Error('the lab does not probe ICMPv6');
  return { port: e.port, protocol: e.protocol };
}

/** The verdict a truth table expects for a flow (undefined for loopback, never checked). */
function expectation(e: Expectation): Expect {
  return (r) => {
    const c = e.cells.get(`${r.from}>${r.to}`);
    return c === undefined ? undefined : c ? 'allow' : 'deny';
  };
}

/**
 * Checks one truth table against the kernel (until it agrees, then once more) and against
 * the simulator; returns what disagreed, one line per cell.
 */
async function checkTable(
  lab: Lab,
  pods: readonly ProbePod[],
  sim: Simulation,
  e: Expectation,
): Promise<{
  problems: string[];
  rounds: number;
  ms: number;
  /** How the denied probes failed (`timeout`, `refused`, …) → how many. */
  closed: Map<string, number>;
}> {
  const expect = expectation(e);
  const port = probePort(e);
  const problems: string[] = [];
  const r = await probeUntil(lab, [port], expect, {
    pods,
    deadlineMs: AGREE_DEADLINE_MS,
    timeoutMs: PROBE_TIMEOUT_MS,
  });
  let probed: readonly LabProbeResult[] = r.results;
  if (r.mismatches.length > 0)
    problems.push(
      `the kernel disagrees with upstream after ${r.rounds} rounds (${r.elapsedMs} ms):`,
      describeMismatches(r.mismatches, expect),
    );
  else {
    // A cell that agreed in the first round may have agreed with the state before the
    // change: one more full pass must agree too. A probe that got through proves the
    // flow open; one that did not may only have been slow on a loaded machine, so a cell
    // expected open but seen closed on this pass is probed again, patiently, before it
    // counts.
    const again = await probeAll(pods, [port], { timeoutMs: PROBE_TIMEOUT_MS });
    const slow = new Set(
      again
        .filter((p) => expect(p) === 'allow' && p.verdict === 'deny')
        .map((p) => `${p.from}>${p.to}`),
    );
    const final = new Map(again.map((p) => [`${p.from}>${p.to}`, p]));
    if (slow.size > 0)
      for (const p of await probeAll(pods, [port], { timeoutMs: 1000, retries: 2, only: slow }))
        final.set(`${p.from}>${p.to}`, p);
    probed = [...final.values()];
    const late = probed.filter((p) => expect(p) !== undefined && expect(p) !== p.verdict);
    if (late.length > 0)
      problems.push(
        'the kernel agreed with upstream, then did not on the next pass:',
        describeMismatches(late, expect),
      );
  }
  const byCell = new Map(probed.map((p) => [`${p.from}>${p.to}`, p]));
  const simVerdicts = simulated(sim, e);
  for (const [cell, allowed] of e.cells) {
    const want = allowed ? 'allow' : 'deny';
    const probe = byCell.get(cell);
    const s = simVerdicts.get(cell);
    if (!probe) problems.push(`${cell}: not probed (pod missing?)`);
    if (s !== want) problems.push(`${cell}: expected ${want}, policy simulate says ${String(s)}`);
    if (probe && s !== probe.verdict)
      problems.push(`${cell}: the probe saw ${probe.verdict}, policy simulate says ${String(s)}`);
  }
  const closed = new Map<string, number>();
  for (const p of probed)
    if (p.verdict === 'deny') closed.set(p.error ?? '?', (closed.get(p.error ?? '?') ?? 0) + 1);
  return { problems, rounds: r.rounds, ms: r.elapsedMs, closed };
}

describe('upstream NetworkPolicy scenarios on a 2-node lab', { skip }, () => {
  let lab: Lab | undefined;
  let model: UpstreamModel;
  const t0 = Date.now();

  before(async () => {
    const log: string[] = [];
    try {
      lab = await Lab.up({
        dir: mkdtempSync('/dev/shm/palisade-lab-'),
        nodes: NODES.length,
        log: (l) => log.push(l),
      });
    } catch (err) {
      throw new Error(`lab up failed:\n${log.join('\n')}`, { cause: err });
    }
    model = upstreamModel(NODES);
    await lab.kubectlOk(['apply', '-f', '-'], modelManifest(model));
    await waitModelReady(lab);
    const pods = (await readCluster(lab)).filter(
      (o) => (o.object as { kind?: string }).kind === 'Pod',
    );
    const nodes = new Set(
      pods.map((o) => (o.object as { spec?: { nodeName?: string } }).spec?.nodeName),
    );
    assert.equal(pods.length, 9, 'the model has 9 pods');
    assert.deepEqual([...nodes].sort(), NODES, 'the model pods are on both nodes');
    console.log(`# lab and model ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    if (!lab) return;
    const left = await lab.down();
    console.log(`# whole suite ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.deepEqual(left, { namespaces: [], links: [], pins: false, processes: [] });
  });

  it('has the 48 upstream scenarios', () => {
    assert.equal(FILES.length, 48);
  });

  for (const file of FILES) {
    const scenario = loadScenario(file);
    it(`${basename(file, '.yaml')}: ${scenario.name}`, { timeout: 300_000 }, async (t) => {
      if (!lab) throw new Error('no lab');
      const started = Date.now();
      const resets = await resetToModel(lab, model);
      const problems: string[] = [];
      const tables: string[] = [];
      for (const [i, step] of scenario.steps.entries()) {
        await playStep(lab, model, step);
        if (step.expect.length === 0) continue;
        const objects = await readCluster(lab);
        const sim = new Simulation(objects);
        assert.deepEqual(sim.errors, [], 'the objects read back are valid');
        const pods: ProbePod[] = (await lab.probePods()).filter((p) =>
          MODEL_NAMESPACES.includes(p.key.split('/')[0] ?? ''),
        );
        assert.equal(pods.length, 9, 'every model pod is running');
        for (const e of step.expect) {
          const where = `step ${i + 1}${step.description ? ` (${step.description})` : ''}, ${String(e.port)}/${e.protocol}`;
          const c = await checkTable(lab, pods, sim, e);
          const closed = [...c.closed].map(([why, n]) => `${n} ${why}`).join(', ');
          tables.push(
            `${String(e.port)}/${e.protocol}: ${c.rounds} rounds, ${c.ms} ms, denied: ${closed || 'none'}`,
          );
          if (c.problems.length > 0) problems.push(`${where}:`, ...c.problems);
        }
      }
      t.diagnostic(
        `${((Date.now() - started) / 1000).toFixed(1)} s; reset: ${resets} changes; ${tables.join('; ')}`,
      );
      assert.equal(problems.length, 0, problems.join('\n'));
    });
  }
});
