/**
 * Differential test against an independent oracle: cyclonus computes the truth table of
 * random NetworkPolicy sets over the upstream model, and our simulator must agree on
 * every cell. Every disagreement is a bug on one side; known cyclonus quirks are avoided
 * by the generator and documented in docs/policy-semantics.md.
 *
 * Needs the cyclonus binary (scripts/install-cyclonus.sh). In CI its absence fails the
 * test; elsewhere the test is skipped with a message.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Simulation } from '../simulation.js';
import { loadModel } from '../testing/fixtures.js';
import { cyclonusTruthTable, findCyclonus } from './cyclonus.js';
import { PROBE_PORTS, randomPolicySet } from './randomPolicies.js';

const SEEDS = Number(process.env['PALISADE_DIFF_SEEDS'] ?? 200);
const binary = findCyclonus();
const skip = binary ? false : 'cyclonus not installed: run scripts/install-cyclonus.sh';

describe('differential: simulator vs cyclonus', () => {
  const work = mkdtempSync(join(tmpdir(), 'palisade-diff-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('cyclonus is available in CI', { skip: !process.env['CI'] && !!skip }, () => {
    assert.ok(
      binary,
      'cyclonus missing in CI: scripts/install-cyclonus.sh should have installed it',
    );
  });

  it(`agrees on ${SEEDS} random policy sets`, { skip, timeout: 600_000 }, async () => {
    const model = loadModel();
    const disagreements: string[] = [];
    let cells = 0;
    const ports = PROBE_PORTS.map((p) => ({ port: p.port, protocol: p.protocol }));
    const check = async (seed: number, dir: string): Promise<void> => {
      const policies = randomPolicySet(seed);
      const oracle = await cyclonusTruthTable({ policies, ports, binary: binary!, workDir: dir });
      const sim = new Simulation([
        ...model,
        ...policies.map((object, i) => ({ object, source: `seed ${seed} #${i}` })),
      ]);
      assert.deepEqual(sim.errors, [], `seed ${seed}: our parser refused a generated policy`);
      const ours = new Map(
        sim
          .simulate(ports)
          .map((r) => [`${r.from}>${r.to} ${String(r.port)}/${r.protocol}`, r.verdict]),
      );
      for (const o of oracle) {
        const k = `${o.from}>${o.to} ${o.port}/${o.protocol}`;
        cells++;
        if (ours.get(k) !== o.verdict)
          disagreements.push(`seed ${seed} ${k}: cyclonus ${o.verdict}, ours ${ours.get(k)}`);
      }
    };
    // Two workers: cyclonus is a separate process, so this uses both cores.
    let next = 0;
    await Promise.all(
      [0, 1].map(async (w) => {
        const dir = join(work, `w${w}`);
        while (next < SEEDS) await check(next++, dir);
      }),
    );
    assert.equal(cells, SEEDS * PROBE_PORTS.length * 72);
    assert.deepEqual(disagreements.slice(0, 20), [], `${disagreements.length} disagreements`);
  });
});
