/**
 * Reads the reachability fixtures (docs/policy-fixtures.md) and runs them two ways:
 * compiled from scratch at every step, and incrementally on one long-lived engine whose
 * deltas are replayed onto a separate replica (as a node would receive them).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  applyDelta,
  canonicalState,
  emptyState,
  Evaluator,
  InMemoryAllocator,
  parseObject,
  PolicyEngine,
  policyKey,
  type CompiledState,
  type Protocol,
} from '@palisade/core';
import { parse } from 'yaml';
import { parseText, type LoadedObject } from '../load.js';
import { Simulation, type ProbePort } from '../simulation.js';

/** The fixtures directory of this package. */
export const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** One expected truth table. */
export interface Expectation {
  readonly port: number | string;
  readonly protocol: Exclude<Protocol, 'ANY'>;
  /** `from>to` → allowed. */
  readonly cells: Map<string, boolean>;
}

/** One step of a scenario. */
export interface Step {
  readonly description?: string;
  readonly apply?: unknown[];
  readonly relabel?: {
    kind: 'Namespace' | 'Pod';
    namespace?: string;
    name: string;
    labels: Record<string, string>;
  }[];
  readonly delete?: { kind: string; namespace?: string; name: string }[];
  readonly expect: Expectation[];
}

/** A reachability scenario. */
export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly steps: Step[];
}

/** Parses a matrix text: header of destinations, then one row per source. */
export function parseMatrix(text: string): Map<string, boolean> {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const header = (lines[0] ?? '').split(/\s+/);
  const cells = new Map<string, boolean>();
  for (const line of lines.slice(1)) {
    const [from, ...row] = line.split(/\s+/);
    row.forEach((c, i) => {
      const to = header[i];
      if (!from || !to || c === '-') return;
      if (c !== '.' && c !== 'X')
        throw new Error(`matrix cell "${c}" for ${from}>${to} is not . or X`);
      cells.set(`${from}>${to}`, c === '.');
    });
  }
  return cells;
}

/** Loads a scenario file. */
export function loadScenario(file: string): Scenario {
  const doc = parse(readFileSync(file, 'utf8')) as {
    name: string;
    steps: (Omit<Step, 'expect'> & {
      expect?: { port: number | string; protocol: string; matrix: string }[];
    })[];
  };
  return {
    file,
    name: doc.name,
    steps: doc.steps.map((s) => ({
      ...s,
      expect: (s.expect ?? []).map((e) => ({
        port: e.port,
        protocol: e.protocol as Expectation['protocol'],
        cells: parseMatrix(e.matrix),
      })),
    })),
  };
}

function objKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

function keyOf(o: unknown): string {
  const x = o as { kind: string; metadata: { namespace?: string; name: string } };
  return objKey(
    x.kind,
    x.kind === 'Namespace' ? undefined : (x.metadata.namespace ?? 'default'),
    x.metadata.name,
  );
}

/** The objects of a cluster as a scenario changes them. */
export class ObjectStore {
  readonly objects = new Map<string, unknown>();

  constructor(initial: readonly LoadedObject[]) {
    for (const o of initial) this.objects.set(keyOf(o.object), o.object);
  }

  /** Applies one step; returns the keys that changed and the keys that were deleted. */
  applyStep(step: Step): { changed: string[]; deleted: string[] } {
    const changed: string[] = [];
    const deleted: string[] = [];
    for (const o of step.apply ?? []) {
      this.objects.set(keyOf(o), structuredClone(o));
      changed.push(keyOf(o));
    }
    for (const r of step.relabel ?? []) {
      const k = objKey(
        r.kind,
        r.kind === 'Namespace' ? undefined : (r.namespace ?? 'default'),
        r.name,
      );
      const o = this.objects.get(k) as
        { metadata: { labels?: Record<string, string> } } | undefined;
      if (!o) throw new Error(`relabel: no ${k}`);
      const copy = structuredClone(o);
      copy.metadata.labels = { ...r.labels };
      this.objects.set(k, copy);
      changed.push(k);
    }
    for (const d of step.delete ?? []) {
      const k = objKey(
        d.kind,
        d.kind === 'Namespace' ? undefined : (d.namespace ?? 'default'),
        d.name,
      );
      if (!this.objects.delete(k)) throw new Error(`delete: no ${k}`);
      deleted.push(k);
    }
    return { changed, deleted };
  }

  /** The objects as loaded objects. */
  list(): LoadedObject[] {
    return [...this.objects.entries()].map(([k, object]) => ({ object, source: k }));
  }
}

/** An engine fed change by change, with a replica built only from its deltas. */
export class IncrementalCluster {
  readonly engine = new PolicyEngine({ numbering: new InMemoryAllocator() });
  readonly replica: CompiledState = emptyState();

  constructor(store: ObjectStore) {
    for (const k of store.objects.keys()) this.upsert(store.objects.get(k));
    applyDelta(this.replica, this.engine.flush());
  }

  private upsert(o: unknown): void {
    const p = parseObject(o);
    switch (p.kind) {
      case 'Namespace':
        return this.engine.upsertNamespace(p.namespace);
      case 'Pod':
        return this.engine.upsertPod(p.pod);
      case 'Policy':
        return this.engine.upsertPolicy(p.policy);
    }
  }

  /** Feeds one step's changes; returns the delta size. */
  change(store: ObjectStore, changed: readonly string[], deleted: readonly string[]): number {
    for (const k of changed) this.upsert(store.objects.get(k));
    for (const k of deleted) {
      const [kind, ns, name] = k.split('/') as [string, string, string];
      if (kind === 'Namespace') this.engine.deleteNamespace(name);
      else if (kind === 'Pod') this.engine.deletePod(ns, name);
      else this.engine.deletePolicy(policyKey({ kind, namespace: ns || undefined, name }));
    }
    const d = this.engine.flush();
    applyDelta(this.replica, d);
    return d.policy.upsert.length + d.policy.remove.length;
  }

  /** True when the replica equals the engine's own state. */
  replicaInSync(): boolean {
    return canonicalState(this.replica) === canonicalState(this.engine.compiled);
  }
}

/**
 * Verdicts for an expectation, as `from>to` → allowed: from a compile from scratch of the
 * objects, and from the replica the incremental cluster built from deltas. The same pairs,
 * addresses and ports are evaluated for both (one Simulation, two evaluators).
 */
export function stepVerdicts(
  store: ObjectStore,
  cluster: IncrementalCluster,
  e: Expectation,
): { scratch: Map<string, boolean>; replica: Map<string, boolean> } {
  const sim = new Simulation(store.list());
  if (sim.errors.length > 0)
    throw new Error(`invalid fixture objects: ${sim.errors.map((x) => x.message).join('; ')}`);
  const probe: ProbePort = { port: e.port, protocol: e.protocol };
  const cells = (ev: Evaluator): Map<string, boolean> =>
    new Map(sim.simulate([probe], ev).map((r) => [`${r.from}>${r.to}`, r.verdict === 'allow']));
  return { scratch: cells(sim.evaluator), replica: cells(new Evaluator(cluster.replica)) };
}

/** Lists differing cells as readable lines. */
export function diffCells(expected: Map<string, boolean>, got: Map<string, boolean>): string[] {
  const out: string[] = [];
  for (const [k, v] of expected) {
    const g = got.get(k);
    if (g !== v)
      out.push(
        `${k}: expected ${v ? 'allow' : 'deny'}, got ${g === undefined ? 'nothing' : g ? 'allow' : 'deny'}`,
      );
  }
  return out;
}

/** Loads the upstream model. */
export function loadModel(): LoadedObject[] {
  return parseText(readFileSync(`${FIXTURES}upstream/model.yaml`, 'utf8'), 'model.yaml');
}
