/** Parsed objects → the engine's inputs: the one dispatch every caller shares. */
import type { PolicyEngine } from '../compiler/engine.js';
import type { ParsedObject } from './parseObject.js';

/** Upserts each parsed object into `engine`, in order (namespaces, pods and policies alike). */
export function feedEngine(engine: PolicyEngine, objects: Iterable<ParsedObject>): void {
  for (const p of objects) {
    if (p.kind === 'Namespace') engine.upsertNamespace(p.namespace);
    else if (p.kind === 'Pod') engine.upsertPod(p.pod);
    else engine.upsertPolicy(p.policy);
  }
}
