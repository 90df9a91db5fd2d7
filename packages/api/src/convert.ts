/**
 * The one place where the core's compiled types meet the wire types: `CompiledDelta` ⇄
 * `StateChange`. Outgoing conversions trust the core; incoming ones check every field a
 * shim would write into its kernel maps and name the offending one (`policy[3].key.port`).
 */
import {
  parsePrefix,
  type CompiledDelta,
  type Direction,
  type EndpointInfo,
  type HttpRule,
  type IdentityInfo,
  type MapValue,
  type PolicyMapEntry,
  type PolicyMapKey,
  type Verdict,
} from '@palisade/core';
import { WireError } from './errors.js';
import type { StateChange, StateChange__Output } from './gen/palisade/v1/StateChange.js';
import type { PolicyKey, PolicyKey__Output } from './gen/palisade/v1/PolicyKey.js';
import type { PolicyEntry, PolicyEntry__Output } from './gen/palisade/v1/PolicyEntry.js';
import type { HttpRule as WireHttpRule, HttpRule__Output } from './gen/palisade/v1/HttpRule.js';

const DIRECTION_NUMBER: Readonly<Record<Direction, 1 | 2>> = { ingress: 1, egress: 2 };
const VERDICT_NUMBER: Readonly<Record<Verdict, 1 | 2 | 3>> = { allow: 1, deny: 2, redirect: 3 };
const DIRECTION_OF: Readonly<Record<string, Direction>> = {
  DIRECTION_INGRESS: 'ingress',
  DIRECTION_EGRESS: 'egress',
};
const VERDICT_OF: Readonly<Record<string, Verdict>> = {
  VERDICT_ALLOW: 'allow',
  VERDICT_DENY: 'deny',
  VERDICT_REDIRECT: 'redirect',
};

/** A policy key on the wire (enum as its number, ready for `encodeChange`). */
export function toWireKey(k: PolicyMapKey): PolicyKey {
  return {
    subject: k.subject,
    direction: DIRECTION_NUMBER[k.direction],
    remote: k.remote,
    protocol: k.protocol,
    port: k.port,
    prefixLen: k.prefixLen,
  };
}

function toWireHttp(r: HttpRule): WireHttpRule {
  return {
    ...(r.method !== undefined ? { method: r.method } : {}),
    ...(r.path !== undefined ? { path: r.path } : {}),
    ...(r.host !== undefined ? { host: r.host } : {}),
    headers: (r.headers ?? []).map((h) => (h.value !== undefined ? { ...h } : { name: h.name })),
  };
}

/** A policy entry on the wire. */
export function toWireEntry(e: PolicyMapEntry): PolicyEntry {
  return {
    key: toWireKey(e.key),
    verdict: VERDICT_NUMBER[e.value.verdict],
    rules: [...e.value.rules],
    httpRules: (e.value.l7 ?? []).map(toWireHttp),
  };
}

/** A whole compiled delta as one wire change. */
export function toWireChange(d: CompiledDelta): StateChange {
  return {
    identities: d.identities.upsert.map((i) => ({ id: i.id, labels: [...i.labels] })),
    removedIdentities: d.identities.remove,
    ipcache: d.ipcache.upsert,
    removedPrefixes: d.ipcache.remove,
    endpoints: d.endpoints.upsert.map((e) => ({
      pod: e.pod,
      identity: e.identity,
      ips: [...e.ips],
      node: e.node ?? '',
    })),
    removedEndpoints: d.endpoints.remove,
    isolation: d.isolation.upsert,
    removedIsolation: d.isolation.remove,
    policy: d.policy.upsert.map(toWireEntry),
    removedPolicy: d.policy.remove.map(toWireKey),
  };
}

function bad(path: string, why: string): never {
  throw new WireError('INVALID_FIELD', `${path}: ${why}`);
}

function identity(path: string, v: number, allowZero: boolean): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) bad(path, `not an identity: ${v}`);
  if (v === 0 && !allowZero) bad(path, 'identity 0 is the wildcard, not an identity');
  return v;
}

function prefix(path: string, p: string): string {
  if (!parsePrefix(p)) bad(path, `not a CIDR prefix: ${JSON.stringify(p)}`);
  return p;
}

function fromWireKey(path: string, k: PolicyKey__Output | null): PolicyMapKey {
  if (!k) bad(path, 'missing');
  const direction = DIRECTION_OF[k.direction];
  if (!direction) bad(`${path}.direction`, `unknown direction ${k.direction}`);
  if (k.protocol > 255) bad(`${path}.protocol`, `out of range: ${k.protocol}`);
  if (k.port > 65535) bad(`${path}.port`, `out of range: ${k.port}`);
  if (k.prefixLen > 16) bad(`${path}.prefixLen`, `out of range: ${k.prefixLen}`);
  if (k.protocol === 0 && (k.port !== 0 || k.prefixLen !== 0))
    bad(path, 'a protocol wildcard must have port 0 and prefixLen 0');
  return {
    subject: identity(`${path}.subject`, k.subject, false),
    direction,
    remote: identity(`${path}.remote`, k.remote, true),
    protocol: k.protocol,
    port: k.port,
    prefixLen: k.prefixLen,
  };
}

function fromWireHttp(r: HttpRule__Output): HttpRule {
  return {
    ...(r.method !== undefined && r.method !== null ? { method: r.method } : {}),
    ...(r.path !== undefined && r.path !== null ? { path: r.path } : {}),
    ...(r.host !== undefined && r.host !== null ? { host: r.host } : {}),
    ...(r.headers.length > 0
      ? {
          headers: r.headers.map((h) =>
            h.value !== undefined && h.value !== null
              ? { name: h.name, value: h.value }
              : { name: h.name },
          ),
        }
      : {}),
  };
}

function fromWireEntry(path: string, e: PolicyEntry__Output): PolicyMapEntry {
  const key = fromWireKey(`${path}.key`, e.key);
  const verdict = VERDICT_OF[e.verdict];
  if (!verdict) bad(`${path}.verdict`, `unknown verdict ${e.verdict}`);
  const value: MapValue =
    verdict === 'redirect' && e.httpRules.length > 0
      ? { verdict, rules: e.rules, l7: e.httpRules.map(fromWireHttp) }
      : { verdict, rules: e.rules };
  return { key, value };
}

/**
 * A wire change as a core delta. Throws WireError INVALID_FIELD naming the first bad
 * field; nothing of a refused change is applied.
 */
export function fromWireChange(w: StateChange__Output | null | undefined): CompiledDelta {
  if (!w) return emptyDelta();
  const identities: IdentityInfo[] = w.identities.map((i, n) => ({
    id: identity(`identities[${n}].id`, i.id, false),
    labels: i.labels,
  }));
  const endpoints: EndpointInfo[] = w.endpoints.map((e, n) => {
    if (!e.pod.includes('/')) bad(`endpoints[${n}].pod`, `not namespace/name: ${e.pod}`);
    return {
      pod: e.pod,
      identity: identity(`endpoints[${n}].identity`, e.identity, false),
      ips: e.ips,
      ...(e.node ? { node: e.node } : {}),
    };
  });
  return {
    identities: {
      upsert: identities,
      remove: w.removedIdentities.map((i, n) => identity(`removedIdentities[${n}]`, i, false)),
    },
    ipcache: {
      upsert: w.ipcache.map((u, n) => ({
        prefix: prefix(`ipcache[${n}].prefix`, u.prefix),
        identity: identity(`ipcache[${n}].identity`, u.identity, false),
      })),
      remove: w.removedPrefixes.map((p, n) => prefix(`removedPrefixes[${n}]`, p)),
    },
    endpoints: { upsert: endpoints, remove: w.removedEndpoints },
    isolation: {
      upsert: w.isolation.map((i, n) => ({
        identity: identity(`isolation[${n}].identity`, i.identity, false),
        ingress: i.ingress,
        egress: i.egress,
      })),
      remove: w.removedIsolation.map((i, n) => identity(`removedIsolation[${n}]`, i, false)),
    },
    policy: {
      upsert: w.policy.map((e, n) => fromWireEntry(`policy[${n}]`, e)),
      remove: w.removedPolicy.map((k, n) => fromWireKey(`removedPolicy[${n}]`, k)),
    },
  };
}

/** A delta that changes nothing. */
export function emptyDelta(): CompiledDelta {
  return {
    identities: { upsert: [], remove: [] },
    ipcache: { upsert: [], remove: [] },
    endpoints: { upsert: [], remove: [] },
    isolation: { upsert: [], remove: [] },
    policy: { upsert: [], remove: [] },
  };
}
