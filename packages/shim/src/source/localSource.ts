/**
 * The local policy source: Namespaces, Pods and policies read from YAML files on the
 * node and compiled here with the core engine. It stands in for the operator's stream
 * until distribution lands, and feeds the shim exactly what the operator will: a
 * compiled state.
 *
 * Reloads are incremental: objects are diffed by key against the previous load and only
 * changes reach the engine, so identities keep their numbers. A file that cannot be read
 * or an object that is invalid is reported and left out; the rest still applies.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Composer, parseAllDocuments, Parser } from 'yaml';
import {
  InMemoryAllocator,
  parseObject,
  PolicyEngine,
  PolicyError,
  type CompiledState,
  type NamespaceInput,
  type PodInput,
  type Policy,
} from '@palisade/core';

/** A problem with one file or object. */
export interface SourceProblem {
  readonly source: string;
  readonly message: string;
}

/** The objects of one load; `digest` tells whether an object changed since the last. */
interface Loaded {
  namespaces: Map<string, { v: NamespaceInput; digest: string }>;
  pods: Map<string, { v: PodInput; digest: string }>;
  policies: Map<string, { v: Policy; digest: string }>;
  problems: SourceProblem[];
}

function filesUnder(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((n) => {
      const p = join(path, n);
      return statSync(p).isDirectory() ? filesUnder(p) : /\.(ya?ml|json)$/.test(n) ? [p] : [];
    });
}

/**
 * The first error of document `index` of a YAML text, with line and column (the file is
 * parsed again whole, which only happens for a file that has an error).
 */
function yamlError(text: string, index: number): string {
  const docs = parseAllDocuments(text);
  return (Array.isArray(docs) ? docs[index] : docs)?.errors[0]?.message ?? 'unknown YAML error';
}

/**
 * A digest of an object's JSON: what a reload compares to find changed objects (32 bytes
 * kept per object instead of its whole text).
 */
function digest(item: unknown): string {
  return createHash('sha256').update(JSON.stringify(item)).digest('base64');
}

/** Sorts one parsed object into `out`; an invalid one becomes a problem. */
function addObject(out: Loaded, item: unknown, source: string): void {
  try {
    const p = parseObject(item);
    switch (p.kind) {
      case 'Namespace':
        out.namespaces.set(p.namespace.name, { v: p.namespace, digest: digest(item) });
        break;
      case 'Pod':
        out.pods.set(`${p.pod.namespace}/${p.pod.name}`, { v: p.pod, digest: digest(item) });
        break;
      case 'Policy':
        out.policies.set(p.policy.key, { v: p.policy, digest: digest(item) });
        break;
    }
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    if (e.code !== 'UnsupportedKind') out.problems.push({ source, message: e.message });
  }
}

function load(paths: readonly string[]): Loaded {
  const out: Loaded = { namespaces: new Map(), pods: new Map(), policies: new Map(), problems: [] };
  for (const root of paths) {
    let files: string[];
    try {
      files = filesUnder(root);
    } catch (e) {
      out.problems.push({ source: root, message: (e as Error).message });
      continue;
    }
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        out.problems.push({ source: file, message: (e as Error).message });
        continue;
      }
      // One document at a time: a file of 10,000 pods never holds 10,000 syntax trees.
      const docs = new Composer().compose(new Parser().parse(text));
      for (let i = 1; ; i++) {
        let next: ReturnType<typeof docs.next>;
        try {
          next = docs.next();
        } catch (e) {
          out.problems.push({ source: file, message: (e as Error).message });
          break;
        }
        if (next.done) break;
        const doc = next.value;
        const source = `${file}#${i}`;
        if (doc.errors[0]) {
          out.problems.push({ source, message: `not valid YAML: ${yamlError(text, i - 1)}` });
          continue;
        }
        const obj: unknown = doc.toJS();
        if (obj === null || obj === undefined) continue;
        const items =
          typeof obj === 'object' &&
          Array.isArray((obj as { items?: unknown }).items) &&
          String((obj as { kind?: unknown }).kind).endsWith('List')
            ? (obj as { items: unknown[] }).items
            : [obj];
        for (const item of items) addObject(out, item, source);
      }
    }
  }
  return out;
}

/** A compiled state kept current from YAML files. */
export class LocalSource {
  private readonly engine = new PolicyEngine({ numbering: new InMemoryAllocator() });
  private last: Loaded = {
    namespaces: new Map(),
    pods: new Map(),
    policies: new Map(),
    problems: [],
  };

  constructor(private readonly paths: readonly string[]) {}

  /** Re-reads the files and applies what changed. Returns the problems found. */
  reload(): readonly SourceProblem[] {
    const next = load(this.paths);
    const e = this.engine;
    const prev = this.last;
    for (const [k, n] of next.namespaces)
      if (prev.namespaces.get(k)?.digest !== n.digest) e.upsertNamespace(n.v);
    for (const [k, p] of next.pods) if (prev.pods.get(k)?.digest !== p.digest) e.upsertPod(p.v);
    for (const [k, p] of next.policies)
      if (prev.policies.get(k)?.digest !== p.digest) e.upsertPolicy(p.v);
    for (const k of prev.policies.keys()) if (!next.policies.has(k)) e.deletePolicy(k);
    for (const [k, p] of prev.pods) if (!next.pods.has(k)) e.deletePod(p.v.namespace, p.v.name);
    for (const k of prev.namespaces.keys()) if (!next.namespaces.has(k)) e.deleteNamespace(k);
    e.flush();
    this.last = next;
    return next.problems;
  }

  /** The current compiled state (read-only). */
  get state(): CompiledState {
    return this.engine.compiled;
  }
}
