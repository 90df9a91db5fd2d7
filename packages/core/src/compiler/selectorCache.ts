/**
 * Selector cache: every distinct selector used by a policy, with the identities it
 * currently selects. Equal selectors from different policies share one entry.
 *
 * Peer selectors (who is on the other end) match RemoteIdentities; subject selectors
 * (which pods a policy applies to) match SubjectIdentities. Selectors scoped to one
 * namespace by name are indexed by that namespace, so a new pod identity is only tested
 * against the selectors of its own namespace plus the cluster-wide ones.
 */
import { CLUSTER_RESERVED, Reserved } from '../identity/reserved.js';
import type { SecurityLabels } from '../identity/securityLabels.js';
import { formatPrefix } from '../model/cidr.js';
import { selectorMatches } from '../model/selector.js';
import type { EndpointMatch, NamespaceMatch, Peer } from '../policy/types.js';
import type { RemoteIdentity, SubjectIdentity } from './identities.js';
import type { PolicyState, RuleState } from './engineState.js';

/** A peer selector and what it matches. */
export class PeerEntry {
  readonly matches = new Set<RemoteIdentity>();
  readonly users = new Set<RuleState>();
  constructor(
    readonly key: string,
    readonly peer: Peer,
  ) {}
}

/** A subject selector and what it selects. */
export class SubjectEntry {
  readonly matches = new Set<SubjectIdentity>();
  readonly users = new Set<PolicyState>();
  constructor(
    readonly key: string,
    readonly match: EndpointMatch,
  ) {}
}

function nsKey(n: NamespaceMatch): string {
  return n.kind === 'name' ? `n:${n.name}` : `s:${n.selector.key}`;
}

/** Canonical key of a peer. */
export function peerKey(p: Peer): string {
  switch (p.kind) {
    case 'endpoints':
      return `ep|${nsKey(p.namespaces)}|${p.pods.key}`;
    case 'cidr':
      return `cidr|${formatPrefix(p.cidr)}|${p.except.map(formatPrefix).sort().join(',')}`;
    case 'entity':
      return `entity|${p.entity}`;
  }
}

/** Canonical key of a subject selector. */
export function subjectKey(m: EndpointMatch): string {
  return `${nsKey(m.namespaces)}|${m.pods.key}`;
}

/** The namespace a selector is confined to, if any (for the index). */
export function scopeOf(p: Peer | EndpointMatch): string | undefined {
  const ns = 'kind' in p ? (p.kind === 'endpoints' ? p.namespaces : undefined) : p.namespaces;
  return ns?.kind === 'name' ? ns.name : undefined;
}

function nsMatches(n: NamespaceMatch, l: SecurityLabels): boolean {
  return n.kind === 'name'
    ? l.namespace === n.name
    : selectorMatches(n.selector, l.namespaceLabels);
}

/** True when the endpoint match selects a pod identity. */
export function endpointMatches(m: EndpointMatch, l: SecurityLabels): boolean {
  return nsMatches(m.namespaces, l) && selectorMatches(m.pods, l.podLabels);
}

/** True when a peer matches a remote identity. */
export function peerMatches(p: Peer, r: RemoteIdentity): boolean {
  switch (p.kind) {
    case 'endpoints':
      return r.subject !== undefined && endpointMatches(p, r.subject.labels);
    case 'cidr':
      return (
        r.cidrSet.has(formatPrefix(p.cidr)) && !p.except.some((e) => r.cidrSet.has(formatPrefix(e)))
      );
    case 'entity':
      switch (p.entity) {
        case 'world':
          return r.subject === undefined && r.reserved === Reserved.World;
        case 'cluster':
          return (
            r.subject !== undefined ||
            (r.reserved !== undefined && CLUSTER_RESERVED.includes(r.reserved))
          );
        case 'host':
          return r.reserved === Reserved.Host;
        case 'remote-node':
          return r.reserved === Reserved.RemoteNode;
        case 'kube-apiserver':
          return r.reserved === Reserved.KubeAPIServer;
      }
  }
}

/** A set of entries indexed by namespace scope. */
export class ScopedIndex<T> {
  private readonly byNs = new Map<string, Set<T>>();
  private readonly global = new Set<T>();

  add(scope: string | undefined, v: T): void {
    if (scope === undefined) this.global.add(v);
    else {
      let s = this.byNs.get(scope);
      if (!s) this.byNs.set(scope, (s = new Set()));
      s.add(v);
    }
  }

  delete(scope: string | undefined, v: T): void {
    if (scope === undefined) this.global.delete(v);
    else {
      const s = this.byNs.get(scope);
      s?.delete(v);
      if (s?.size === 0) this.byNs.delete(scope);
    }
  }

  /** Entries that may concern something in `ns` (its own plus the global ones). */
  *candidates(ns: string | undefined): Iterable<T> {
    if (ns !== undefined) yield* this.byNs.get(ns) ?? [];
    yield* this.global;
  }

  /** Entries scoped to `scope` (or every entry, when scope is undefined). */
  *within(scope: string | undefined): Iterable<T> {
    if (scope !== undefined) {
      yield* this.byNs.get(scope) ?? [];
      return;
    }
    for (const s of this.byNs.values()) yield* s;
    yield* this.global;
  }
}
