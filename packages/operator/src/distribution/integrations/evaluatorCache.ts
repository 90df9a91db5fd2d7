/**
 * One evaluator per compiled state: building one indexes the ipcache and the endpoints
 * (linear in the cluster), so Simulate reuses it until the engine or the revision changes.
 */
import { Evaluator, type PolicyEngine } from '@palisade/core';

/** Holds the evaluator of the latest (engine, revision) asked for. */
export class EvaluatorCache {
  private cached: { engine: PolicyEngine; revision: number; evaluator: Evaluator } | undefined;

  /**
   * The evaluator of `engine`'s compiled state at `revision`. Relies on the context's
   * invariant that the revision changes whenever the compiled state does.
   */
  get(engine: PolicyEngine, revision: number): Evaluator {
    const c = this.cached;
    if (c && c.engine === engine && c.revision === revision) return c.evaluator;
    const evaluator = new Evaluator(engine.compiled);
    this.cached = { engine, revision, evaluator };
    return evaluator;
  }
}
