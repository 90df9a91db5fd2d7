/**
 * The upstream NetworkPolicy scenarios (packages/cli/fixtures/upstream) played on a lab
 * with kubectl, as a user would: the model's namespaces and pods created once, each
 * scenario's steps applied, relabelled and deleted for real, the cluster reset to the
 * model between scenarios, and the objects read back from the apiserver for the simulator.
 *
 * The model pods are pinned alternately to node-1 and node-2 (`nodeSelector` on
 * `kubernetes.io/hostname`), so every matrix holds same-node and cross-node pairs.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseText, type LoadedObject } from '@palisade/cli';
import { FIXTURES, loadModel, type Step } from '@palisade/cli/testing';
import type { Lab } from '../lab/lab.js';

/** The directory of the upstream scenario files. */
export const UPSTREAM_DIR = join(FIXTURES, 'upstream');

/** The model's namespaces. */
export const MODEL_NAMESPACES: readonly string[] = ['x', 'y', 'z'];

/** The label the apiserver keeps on every namespace (it cannot be removed). */
const NAME_LABEL = 'kubernetes.io/metadata.name';

/** The label the lab's scheduler matches `nodeSelector` against. */
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** A metadata-only view of a Kubernetes object. */
interface Meta {
  kind?: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: { podIP?: string; phase?: string };
}

/**
 * An object as YAML that kubectl reads back as written: kubectl's decoder is YAML 1.1,
 * where an unquoted `y` (namespace y, label ns=y) is a boolean, so strings are quoted as
 * 1.1 requires.
 */
function toYaml(o: unknown): string {
  return stringify(o, { version: '1.1' });
}

/** The scenario files (every `*.yaml` of the upstream directory but the model), sorted. */
export function scenarioFiles(): string[] {
  return readdirSync(UPSTREAM_DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'model.yaml')
    .sort()
    .map((f) => join(UPSTREAM_DIR, f));
}

/** `namespace/name` of a namespaced object, the name of a Namespace. */
function keyOf(o: Meta): string {
  return o.kind === 'Namespace'
    ? o.metadata.name
    : `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
}

/** What the model holds: its objects by key, its pods' IPs and the node of each pod. */
export interface UpstreamModel {
  /** Namespaces by name and pods by `namespace/name`, as model.yaml writes them. */
  readonly objects: ReadonlyMap<string, Meta>;
  /** The model's pod IPs (model.yaml's `status.podIP`) → `namespace/name`. */
  readonly podByModelIp: ReadonlyMap<string, string>;
  /** The node each pod is pinned to. */
  readonly nodeOf: ReadonlyMap<string, string>;
}

/** Reads model.yaml. */
export function upstreamModel(nodes: readonly string[]): UpstreamModel {
  const objects = new Map<string, Meta>();
  const podByModelIp = new Map<string, string>();
  const nodeOf = new Map<string, string>();
  let i = 0;
  for (const { object } of loadModel()) {
    const o = object as Meta;
    const key = keyOf(o);
    objects.set(key, o);
    if (o.kind !== 'Pod') continue;
    const ip = o.status?.podIP;
    if (!ip) throw new Error(`model pod ${key} has no status.podIP`);
    podByModelIp.set(ip, key);
    nodeOf.set(key, nodes[i++ % nodes.length] ?? '');
  }
  return { objects, podByModelIp, nodeOf };
}

/**
 * The model as a manifest for `kubectl apply`: no `status` (the kubelet writes it), an
 * image on every container (the API requires one; the lab's kubelet ignores it) and the
 * pod's node as a `nodeSelector`. `only` limits it to some keys.
 */
export function modelManifest(model: UpstreamModel, only?: ReadonlySet<string>): string {
  const docs: unknown[] = [];
  for (const [key, o] of model.objects) {
    if (only && !only.has(key)) continue;
    const copy = structuredClone(o) as Meta & { status?: unknown };
    delete copy.status;
    if (copy.kind === 'Pod') {
      const spec = (copy.spec ?? {}) as { containers?: Record<string, unknown>[] };
      for (const c of spec.containers ?? []) c['image'] ??= 'agnhost'; // never pulled: no registry is named
      copy.spec = { ...spec, nodeSelector: { [HOSTNAME_LABEL]: model.nodeOf.get(key) ?? '' } };
    }
    docs.push(copy);
  }
  return docs.map(toYaml).join('---\n');
}

/** Whether an object (Namespace, or anything namespaced) belongs to the model's namespaces. */
function inModel(o: Meta): boolean {
  const ns = o.kind === 'Namespace' ? o.metadata.name : o.metadata.namespace;
  return ns !== undefined && MODEL_NAMESPACES.includes(ns);
}

/** The Namespaces, Pods and NetworkPolicies of x, y and z, read back from the apiserver. */
export async function readCluster(lab: Lab): Promise<LoadedObject[]> {
  const out = await lab.kubectlOk([
    'get',
    'namespaces,pods,networkpolicies',
    '--all-namespaces',
    '-o',
    'yaml',
  ]);
  return parseText(out, 'kubectl get').filter((o) => inModel(o.object as Meta));
}

/** Waits until every pod of the model's namespaces is Ready. */
export async function waitModelReady(lab: Lab): Promise<void> {
  await Promise.all(
    MODEL_NAMESPACES.map((ns) =>
      lab.kubectlOk(['wait', '--for=condition=Ready', 'pod', '--all', '-n', ns, '--timeout=60s']),
    ),
  );
}

/** The running model pods' IPs, `namespace/name` → IP. */
export function podIps(objects: readonly LoadedObject[]): Map<string, string> {
  const ips = new Map<string, string>();
  for (const { object } of objects) {
    const o = object as Meta;
    if (o.kind === 'Pod' && o.status?.podIP) ips.set(keyOf(o), o.status.podIP);
  }
  return ips;
}

/**
 * `kubectl label --overwrite` arguments that turn `current` into exactly `desired`
 * (`k=v` for what to set, `k-` for what to remove); empty when they are equal.
 * On a Namespace, `kubernetes.io/metadata.name` is never removed (the apiserver owns it).
 */
export function labelChanges(
  kind: 'Namespace' | 'Pod',
  current: Readonly<Record<string, string>>,
  desired: Readonly<Record<string, string>>,
): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(desired)) if (current[k] !== v) args.push(`${k}=${v}`);
  for (const k of Object.keys(current))
    if (!(k in desired) && !(kind === 'Namespace' && k === NAME_LABEL)) args.push(`${k}-`);
  return args;
}

/** Relabels one object to exactly `labels` (no call when it already has them). */
async function relabel(
  lab: Lab,
  kind: 'Namespace' | 'Pod',
  namespace: string | undefined,
  name: string,
  current: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): Promise<void> {
  const changes = labelChanges(kind, current, labels);
  if (changes.length === 0) return;
  await lab.kubectlOk([
    'label',
    '--overwrite',
    ...(kind === 'Pod' ? ['-n', namespace ?? 'default'] : []),
    kind.toLowerCase(),
    name,
    ...changes,
  ]);
}

/**
 * Puts x, y and z back to the model: no NetworkPolicy, the model's namespace and pod
 * labels, every model pod present (recreated and waited for when one was deleted).
 * Returns how many changes it made.
 */
export async function resetToModel(lab: Lab, model: UpstreamModel): Promise<number> {
  const have = new Map(
    (await readCluster(lab)).map(({ object }) => [keyOf(object as Meta), object as Meta]),
  );
  let changes = 0;
  const policyNamespaces = new Set<string>();
  for (const o of have.values())
    if (o.kind === 'NetworkPolicy') policyNamespaces.add(o.metadata.namespace ?? 'default');
  for (const ns of policyNamespaces) {
    await lab.kubectlOk(['delete', 'networkpolicies', '--all', '-n', ns]);
    changes++;
  }
  const missing = new Set<string>();
  for (const [key, want] of model.objects) {
    const got = have.get(key);
    if (!got || got.kind !== want.kind) {
      missing.add(key);
      continue;
    }
    const kind = want.kind as 'Namespace' | 'Pod';
    const cur = got.metadata.labels ?? {};
    if (labelChanges(kind, cur, want.metadata.labels ?? {}).length === 0) continue;
    await relabel(
      lab,
      kind,
      want.metadata.namespace,
      want.metadata.name,
      cur,
      want.metadata.labels ?? {},
    );
    changes++;
  }
  if (missing.size > 0) {
    await lab.kubectlOk(['apply', '-f', '-'], modelManifest(model, missing));
    await waitModelReady(lab);
    changes += missing.size;
  }
  return changes;
}

/** An IPv4 address as a number, or undefined when `ip` is not one. */
function ipv4(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    return undefined;
  return parts.reduce((a, p) => a * 256 + p, 0);
}

/** The dotted form of an IPv4 address given as a number. */
function dotted(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/**
 * Rewrites a CIDR written with a model pod's IP to the same pod's lab IP, keeping the mask
 * (upstream builds its ipBlocks as `<real pod IP>/<mask>`), with the host bits cleared:
 * the apiserver (v1.37) rejects a CIDR with bits set beyond its prefix, and upstream's
 * newer suite clears them the same way (`makeLargeCIDRForIP`); the addresses it holds are
 * the same. A CIDR whose address is in the model's pod range (10.244.0.0/16) but is no
 * model pod's IP is an error: the fixture means a pod the model does not have.
 */
export function rewriteCidr(
  cidr: string,
  model: UpstreamModel,
  labIps: ReadonlyMap<string, string>,
): string {
  const [addr = '', maskText] = cidr.split('/');
  const pod = model.podByModelIp.get(addr);
  if (pod === undefined) {
    const n = ipv4(addr);
    if (n !== undefined && Math.floor(n / 65536) === 10 * 256 + 244)
      throw new Error(
        `ipBlock ${cidr}: ${addr} is in the model's pod range but no model pod has it`,
      );
    return cidr;
  }
  const ip = labIps.get(pod);
  if (ip === undefined) throw new Error(`ipBlock ${cidr}: pod ${pod} has no IP in the lab`);
  const n = ipv4(ip);
  const mask = maskText === undefined ? 32 : Number(maskText);
  if (n === undefined || !Number.isInteger(mask) || mask < 0 || mask > 32)
    throw new Error(`ipBlock ${cidr}: cannot rewrite to ${ip} (IPv4 only)`);
  const size = 2 ** (32 - mask);
  return `${dotted(Math.floor(n / size) * size)}/${mask}`;
}

/** A copy of `obj` whose every `ipBlock` (`cidr` and `except`) uses the lab's pod IPs. */
export function rewriteIpBlocks(
  obj: unknown,
  model: UpstreamModel,
  labIps: ReadonlyMap<string, string>,
): unknown {
  const walk = (v: unknown, parentKey: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, parentKey));
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (parentKey === 'ipBlock' && k === 'cidr' && typeof x === 'string')
        out[k] = rewriteCidr(x, model, labIps);
      else if (parentKey === 'ipBlock' && k === 'except' && Array.isArray(x))
        out[k] = (x as unknown[]).map((c) =>
          typeof c === 'string' ? rewriteCidr(c, model, labIps) : c,
        );
      else out[k] = walk(x, k);
    }
    return out;
  };
  return walk(obj, '');
}

/**
 * Plays one step for real: `kubectl apply` of its objects (ipBlocks rewritten to the lab's
 * pod IPs), its relabels (`kubectl label --overwrite`, to exactly the listed set) and its
 * deletes (`kubectl delete`).
 */
export async function playStep(lab: Lab, model: UpstreamModel, step: Step): Promise<void> {
  if (step.apply && step.apply.length > 0) {
    const ips = podIps(await readCluster(lab));
    const docs = step.apply.map((o) => toYaml(rewriteIpBlocks(o, model, ips)));
    await lab.kubectlOk(['apply', '-f', '-'], docs.join('---\n'));
  }
  if (step.relabel && step.relabel.length > 0) {
    const have = new Map(
      (await readCluster(lab)).map(({ object }) => [keyOf(object as Meta), object as Meta]),
    );
    for (const r of step.relabel) {
      const key = r.kind === 'Namespace' ? r.name : `${r.namespace ?? 'default'}/${r.name}`;
      const cur = have.get(key);
      if (!cur) throw new Error(`relabel: no ${r.kind} ${key} in the cluster`);
      await relabel(lab, r.kind, r.namespace, r.name, cur.metadata.labels ?? {}, r.labels);
    }
  }
  for (const d of step.delete ?? [])
    await lab.kubectlOk([
      'delete',
      ...(d.namespace !== undefined ? ['-n', d.namespace] : []),
      d.kind.toLowerCase(),
      d.name,
    ]);
}
