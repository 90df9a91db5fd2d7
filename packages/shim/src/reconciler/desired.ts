/**
 * What the kernel maps should hold, computed from the compiled state and this node's
 * endpoints. Pure: the reconciler diffs it against what the kernel holds.
 *
 * - endpoints: each local endpoint's host ifindex → its identity and isolation flags; an
 *   endpoint the compiled state does not know yet is NOT_READY (all traffic dropped).
 * - policy: the entries of the identities that have an endpoint here.
 * - ipcache: every prefix of the compiled state (a remote address must never fall back to
 *   `world` while it has an identity).
 */
import {
  parsePrefix,
  policyEntries,
  Reserved,
  type CompiledState,
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
import type { MapContents } from '../bpf/maps.js';
import type { LocalEndpoint } from './endpoint.js';

/** The desired contents of the maps the shim writes. */
export interface DesiredMaps {
  readonly ipcache: MapContents;
  readonly policy: MapContents;
  readonly endpoints: MapContents;
  /** rule_ref → the rule ids it stands for (for flow events). */
  readonly rules: Map<number, readonly string[]>;
}

const VERDICT_NUMBER: Readonly<Record<Verdict, number>> = VERDICT;

/** A stable 32-bit reference for a list of rule ids (FNV-1a; never 0). */
export function ruleRef(rules: readonly string[]): number {
  let h = 0x811c9dc5;
  const s = rules.join('\n');
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** The desired ipcache map: every prefix of the state. Depends on the state only. */
export function desiredIpcache(state: CompiledState): MapContents {
  const out: MapContents = new Map();
  for (const [text, identity] of state.ipcache) {
    const p = parsePrefix(text);
    if (!p) continue;
    const k = Buffer.allocUnsafe(ipcacheKey.size);
    ipcacheKey.encode(k, 0, p.family, p.addr, p.len);
    const v = Buffer.allocUnsafe(ipcacheValue.size);
    ipcacheValue.encode(v, 0, identity);
    out.set(k.toString('latin1'), v);
  }
  return out;
}

/**
 * Computes the desired maps. `ipcache`, when given, is `desiredIpcache(state)` computed
 * earlier for this same state (it does not depend on the endpoints).
 */
export function desiredMaps(
  state: CompiledState,
  endpoints: Iterable<LocalEndpoint>,
  options: { proxyPort?: number; ipcache?: MapContents } = {},
): DesiredMaps {
  const out: DesiredMaps = {
    ipcache: options.ipcache ?? desiredIpcache(state),
    policy: new Map(),
    endpoints: new Map(),
    rules: new Map(),
  };
  const subjects = new Set<number>();
  for (const ep of endpoints) {
    const info = state.endpoints.get(ep.pod);
    const k = Buffer.allocUnsafe(endpointKey.size);
    endpointKey.encode(k, 0, ep.hostIfIndex);
    const v = Buffer.allocUnsafe(endpointValue.size);
    if (!info) {
      endpointValue.encode(v, 0, Reserved.Init, EP_FLAGS.notReady);
    } else {
      const iso = state.isolation.get(info.identity);
      const flags =
        (iso?.ingress ? EP_FLAGS.ingressIsolated : 0) | (iso?.egress ? EP_FLAGS.egressIsolated : 0);
      endpointValue.encode(v, 0, info.identity, flags);
      subjects.add(info.identity);
    }
    out.endpoints.set(k.toString('latin1'), v);
  }
  for (const e of policyEntries(state)) {
    if (!subjects.has(e.key.subject)) continue;
    const k = Buffer.allocUnsafe(policyKey.size);
    policyKey.encode(k, 0, {
      subject: e.key.subject,
      remote: e.key.remote,
      direction: DIR[e.key.direction],
      protocol: e.key.protocol,
      port: e.key.port,
      portPrefixLen: e.key.prefixLen,
    });
    const ref = ruleRef(e.value.rules);
    out.rules.set(ref, e.value.rules);
    const v = Buffer.allocUnsafe(policyValue.size);
    policyValue.encode(
      v,
      0,
      VERDICT_NUMBER[e.value.verdict],
      ref,
      e.value.verdict === 'redirect' ? (options.proxyPort ?? 0) : 0,
    );
    out.policy.set(k.toString('latin1'), v);
  }
  return out;
}
