/**
 * What the kernel maps should hold, computed from the compiled state and this node's
 * endpoints. Pure: the reconciler diffs it against what the kernel holds.
 *
 * - endpoints: each local endpoint's host ifindex → its identity and isolation flags; an
 *   endpoint the compiled state does not know yet is NOT_READY (all traffic dropped).
 * - policy: the entries of the identities that have an endpoint here.
 * - ipcache: every prefix of the compiled state (a remote address must never fall back to
 *   `world` while it has an identity).
 *
 * The contents are packed tables (`EntryTable`), filled through one scratch key and value:
 * computing them allocates nothing per entry. The policy part walks only the entries of the
 * node's subjects, found through a per-state index (`policyIndex`), so its cost follows the
 * node's entries, not the cluster's.
 */
import {
  parsePrefix,
  Reserved,
  type CompiledState,
  type PolicyMapEntry,
  type Verdict,
} from '@palisade/core';
import {
  DIR,
  EP_FLAGS,
  VERDICT,
  endpointKey,
  endpointValue,
  ipcacheKey,
  ipcacheValue,
  policyKey,
  policyValue,
} from '../bpf/layouts.js';
import { EntryTable } from '../bpf/entryTable.js';
import type { LocalEndpoint } from './endpoint.js';

/** The desired contents of the maps the shim writes. */
export interface DesiredMaps {
  readonly ipcache: EntryTable;
  readonly policy: EntryTable;
  readonly endpoints: EntryTable;
  /** rule_ref → the rule ids it stands for (for flow events). */
  readonly rules: Map<number, readonly string[]>;
}

/** A state's policy entries grouped by subject identity (the groups are the state's own). */
export type PolicyIndex = ReadonlyMap<number, readonly ReadonlyMap<number, PolicyMapEntry>[]>;

const VERDICT_NUMBER: Readonly<Record<Verdict, number>> = VERDICT;

/** A stable 32-bit reference for a list of rule ids (FNV-1a over the ids joined by "\n"; never 0). */
export function ruleRef(rules: readonly string[]): number {
  let h = 0x811c9dc5;
  for (let r = 0; r < rules.length; r++) {
    if (r > 0) h = Math.imul(h ^ 10, 0x01000193) >>> 0;
    const s = rules[r] as string;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** Empty tables of the managed maps' layouts. */
export function emptyDesiredMaps(): DesiredMaps {
  return {
    ipcache: new EntryTable(ipcacheKey.size, ipcacheValue.size),
    policy: new EntryTable(policyKey.size, policyValue.size),
    endpoints: new EntryTable(endpointKey.size, endpointValue.size),
    rules: new Map(),
  };
}

/** The policy groups of each subject of a state. Depends on the state only. */
export function policyIndex(state: CompiledState): PolicyIndex {
  const out = new Map<number, ReadonlyMap<number, PolicyMapEntry>[]>();
  for (const group of state.policy.values()) {
    const first = group.values().next();
    if (first.done) continue;
    const subject = first.value.key.subject;
    const list = out.get(subject);
    if (list) list.push(group);
    else out.set(subject, [group]);
  }
  return out;
}

/**
 * The desired ipcache map: every prefix of the state, written into `into` (cleared first;
 * a new table when not given). Depends on the state only.
 */
export function desiredIpcache(
  state: CompiledState,
  into = new EntryTable(ipcacheKey.size, ipcacheValue.size, state.ipcache.size),
  hostAddresses: readonly string[] = [],
): EntryTable {
  into.clear(state.ipcache.size + hostAddresses.length);
  const k = Buffer.allocUnsafe(ipcacheKey.size);
  const v = Buffer.allocUnsafe(ipcacheValue.size);
  for (const [text, identity] of state.ipcache) {
    const p = parsePrefix(text);
    if (!p) continue;
    ipcacheKey.encode(k, 0, p.family, p.addr, p.len);
    ipcacheValue.encode(v, 0, identity);
    into.set(k, 0, v, 0);
  }
  // This node's own addresses are `host` here, whatever the cluster-wide view says (there
  // they are `remote-node`): set last, so they replace an entry for the same prefix.
  for (const a of hostAddresses) {
    const p = parsePrefix(a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`);
    if (!p) continue;
    ipcacheKey.encode(k, 0, p.family, p.addr, p.len);
    ipcacheValue.encode(v, 0, Reserved.Host);
    into.set(k, 0, v, 0);
  }
  return into;
}

/**
 * Fills `out.endpoints`, `out.policy` and `out.rules` for these endpoints (each cleared
 * first); `out.ipcache` is left as it is (see `desiredIpcache`). `index` is
 * `policyIndex(state)`, computed earlier for this same state.
 */
export function fillDesired(
  out: DesiredMaps,
  state: CompiledState,
  endpoints: Iterable<LocalEndpoint>,
  options: { proxyPort?: number; index?: PolicyIndex } = {},
): void {
  out.endpoints.clear();
  out.rules.clear();
  const subjects = new Set<number>();
  const ek = Buffer.allocUnsafe(endpointKey.size);
  const ev = Buffer.allocUnsafe(endpointValue.size);
  for (const ep of endpoints) {
    const info = state.endpoints.get(ep.pod);
    endpointKey.encode(ek, 0, ep.hostIfIndex);
    if (!info) {
      endpointValue.encode(ev, 0, Reserved.Init, EP_FLAGS.notReady);
    } else {
      const iso = state.isolation.get(info.identity);
      const flags =
        (iso?.ingress ? EP_FLAGS.ingressIsolated : 0) | (iso?.egress ? EP_FLAGS.egressIsolated : 0);
      endpointValue.encode(ev, 0, info.identity, flags);
      subjects.add(info.identity);
    }
    out.endpoints.set(ek, 0, ev, 0);
  }
  const index = options.index ?? policyIndex(state);
  let entries = 0;
  for (const s of subjects) for (const g of index.get(s) ?? []) entries += g.size;
  out.policy.clear(entries);
  const proxyPort = options.proxyPort ?? 0;
  const k = Buffer.allocUnsafe(policyKey.size);
  const v = Buffer.allocUnsafe(policyValue.size);
  for (const s of subjects)
    for (const group of index.get(s) ?? [])
      for (const e of group.values()) {
        const key = e.key;
        policyKey.encodeFields(
          k,
          0,
          key.subject,
          key.remote,
          DIR[key.direction],
          key.protocol,
          key.port,
          key.prefixLen,
        );
        const ref = ruleRef(e.value.rules);
        if (!out.rules.has(ref)) out.rules.set(ref, e.value.rules);
        policyValue.encode(
          v,
          0,
          VERDICT_NUMBER[e.value.verdict],
          ref,
          e.value.verdict === 'redirect' ? proxyPort : 0,
        );
        out.policy.set(k, 0, v, 0);
      }
}

/**
 * Computes the desired maps into new tables. `ipcache`, when given, is
 * `desiredIpcache(state)` computed earlier for this same state (it does not depend on the
 * endpoints), and `index` is `policyIndex(state)`.
 */
export function desiredMaps(
  state: CompiledState,
  endpoints: Iterable<LocalEndpoint>,
  options: { proxyPort?: number; ipcache?: EntryTable; index?: PolicyIndex } = {},
): DesiredMaps {
  const fresh = emptyDesiredMaps();
  const out: DesiredMaps = { ...fresh, ipcache: options.ipcache ?? desiredIpcache(state) };
  fillDesired(out, state, endpoints, {
    ...(options.proxyPort !== undefined ? { proxyPort: options.proxyPort } : {}),
    ...(options.index ? { index: options.index } : {}),
  });
  return out;
}
