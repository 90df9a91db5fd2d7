/**
 * The 48 upstream Kubernetes NetworkPolicy e2e scenarios (fixtures/upstream), each step
 * checked from scratch and incrementally against upstream's expected truth tables.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  diffCells,
  FIXTURES,
  IncrementalCluster,
  loadModel,
  loadScenario,
  ObjectStore,
  stepVerdicts,
} from './testing/fixtures.js';

const files = readdirSync(`${FIXTURES}upstream`)
  .filter((f) => f.endsWith('.yaml') && f !== 'model.yaml')
  .sort();

describe('upstream NetworkPolicy e2e scenarios', () => {
  it('has all 48 scenarios', () => assert.equal(files.length, 48));

  for (const f of files) {
    const sc = loadScenario(`${FIXTURES}upstream/${f}`);
    it(`${f}: ${sc.name}`, () => {
      const store = new ObjectStore(loadModel());
      const cluster = new IncrementalCluster(store);
      let checked = 0;
      sc.steps.forEach((step, i) => {
        const { changed, deleted } = store.applyStep(step);
        cluster.change(store, changed, deleted);
        assert.ok(
          cluster.replicaInSync(),
          `step ${i}: replica built from deltas differs from the engine state`,
        );
        for (const e of step.expect) {
          const where = `step ${i} (${step.description ?? ''}) ${String(e.port)}/${e.protocol}`;
          const { scratch, replica } = stepVerdicts(store, cluster, e);
          assert.deepEqual(diffCells(e.cells, scratch), [], `${where}, from scratch`);
          assert.deepEqual(diffCells(e.cells, replica), [], `${where}, incremental`);
          checked++;
        }
      });
      assert.ok(checked > 0, 'scenario checks nothing');
    });
  }
});
