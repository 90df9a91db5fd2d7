/**
 * What each node needs of the compiled state, and how every change splits into the pieces
 * each node receives.
 *
 * A node's view of the cluster's compiled state S is:
 * - endpoints: the pods scheduled to it;
 * - policy and isolation: the entries of its *local subjects* (identities of its pods);
 * - ipcache: the entries whose identity is *referenced* by a local subject's policy
 *   (a remote identity of one of its entries); all entries when `world` (2) is
 *   referenced; every entry of a CIDR-derived identity when one derived identity is;
 * - identities (labels, for flow records): local subjects and identities of its ipcache.
 *
 * Why this ipcache is exact: an address left out of a node's ipcache resolves there to
 * `world`, or to a prefix that contains it. Its true identity T is unreferenced, so only
 * wildcard entries apply to it. Lookups that end in `world` are right unless `world` is
 * referenced (then everything is sent). An address inside another ipcache prefix is
 * inside a policy CIDR, so T is derived; if T is not sent, no derived identity is
 * referenced, no containing prefix is sent, and the lookup ends in `world` again.
 *
 * `apply` takes one compiled delta (with the state after it) and returns, per node, the
 * keys of the pieces that node's frame is made of; the pieces themselves are encoded
 * once per revision and shared (`piece`). Membership (local subjects, referenced
 * remotes) is kept incrementally: the work of a change follows what it touches, times
 * the number of nodes for a few set lookups each.
 */
import {
  isLocal,
  policyGroupKey,
  Reserved,
  type CompiledDelta,
  type CompiledState,
  type EndpointInfo,
  type PolicyMapEntry,
  type PolicyMapKey,
} from '@palisade/core';
import { encodePiece, push, type PieceParts } from './pieces.js';

/** What one node holds of the state. */
interface Membership {
  /** Local subject → number of the node's pods with it. */
  readonly subjects: Map<number, number>;
  /** Referenced remote → number of local subjects referencing it. */
  readonly remotes: Map<number, number>;
  /** Number of referenced remotes that are CIDR-derived. */
  derived: number;
}

function emptyMembership(): Membership {
  return { subjects: new Map(), remotes: new Map(), derived: 0 };
}

function cloneMembership(m: Membership): Membership {
  return { subjects: new Map(m.subjects), remotes: new Map(m.remotes), derived: m.derived };
}

function ipVisible(m: Membership, id: number): boolean {
  return m.remotes.has(Reserved.World) || m.remotes.has(id) || (m.derived > 0 && isLocal(id));
}

function identityVisible(m: Membership, id: number): boolean {
  return m.subjects.has(id) || ipVisible(m, id);
}

/** Keys of the pieces of one node's frame, in no particular order. */
export type FrameKeys = string[];

/** The result of one change. */
export interface ViewChange {
  /** Node → the keys of its frame's pieces (nodes the change does not concern are absent). */
  readonly frames: Map<string, FrameKeys>;
  /** Node → subjects that became local to it in this change. */
  readonly newSubjects: Map<string, number[]>;
}

/** The per-node views of one compiled state. Not thread-safe; one per leadership term. */
export class NodeViews {
  private readonly nodes = new Map<string, Membership>();
  private readonly subjectNodes = new Map<number, Set<string>>();
  /** Subject → its present policy groups (`subject/direction/remote`). */
  private readonly subjectGroups = new Map<number, Set<string>>();
  /** Subject → remote → number of its present groups with that remote (1 or 2). */
  private readonly subjectRemotes = new Map<number, Map<number, number>>();
  private readonly groupRemote = new Map<string, number>();
  private readonly identityPrefixes = new Map<number, Set<string>>();
  private readonly prefixIdentity = new Map<string, number>();
  private readonly endpoints = new Map<string, EndpointInfo>();
  private readonly nodePods = new Map<string, Set<string>>();
  private state: CompiledState | undefined;
  /** Encoded pieces of the current revision. */
  private pieces = new Map<string, Uint8Array>();
  /** Contents of the current revision's delta pieces, by key (encoded on first use). */
  private parts = new Map<string, PieceParts>();

  /** The nodes known (with pods now or before). */
  nodeNames(): IterableIterator<string> {
    return this.nodes.keys();
  }

  /** True when the node has a pod with this identity. */
  hosts(node: string, subject: number): boolean {
    return this.nodes.get(node)?.subjects.has(subject) ?? false;
  }

  /** Nodes hosting pods of this identity. */
  nodesOf(subject: number): ReadonlySet<string> {
    return this.subjectNodes.get(subject) ?? EMPTY;
  }

  /** Applies a delta (`state` is the state after it) and splits it per node. */
  apply(delta: CompiledDelta, state: CompiledState): ViewChange {
    this.state = state;
    this.pieces = new Map();
    this.parts = new Map();
    const before = new Map<string, Membership>();
    const touch = (node: string): Membership => {
      let m = this.nodes.get(node);
      if (!m) this.nodes.set(node, (m = emptyMembership()));
      if (!before.has(node)) before.set(node, cloneMembership(m));
      return m;
    };
    const newSubjects = new Map<string, number[]>();

    // Policy groups: which remotes each subject references.
    const groupsTouched = new Set<string>();
    const policyUp = new Map<number, PolicyMapEntry[]>();
    const policyRm = new Map<number, PolicyMapKey[]>();
    for (const e of delta.policy.upsert) {
      push(policyUp, e.key.subject, e);
      groupsTouched.add(policyGroupKey(e.key.subject, e.key.direction, e.key.remote));
    }
    for (const k of delta.policy.remove) {
      push(policyRm, k.subject, k);
      groupsTouched.add(policyGroupKey(k.subject, k.direction, k.remote));
    }
    for (const gk of groupsTouched) {
      const present = (state.policy.get(gk)?.size ?? 0) > 0;
      const was = this.groupRemote.has(gk);
      if (present === was) continue;
      const [s, , r] = gk.split('/');
      const subject = Number(s);
      const remote = Number(r);
      let groups = this.subjectGroups.get(subject);
      let remotes = this.subjectRemotes.get(subject);
      if (!groups) this.subjectGroups.set(subject, (groups = new Set<string>()));
      if (!remotes) this.subjectRemotes.set(subject, (remotes = new Map<number, number>()));
      const n = remotes.get(remote) ?? 0;
      if (present) {
        this.groupRemote.set(gk, remote);
        groups.add(gk);
        remotes.set(remote, n + 1);
        if (n === 0 && remote !== 0)
          for (const node of this.nodesOf(subject)) addRemote(touch(node), remote);
      } else {
        this.groupRemote.delete(gk);
        groups.delete(gk);
        if (n <= 1) remotes.delete(remote);
        else remotes.set(remote, n - 1);
        if (n === 1 && remote !== 0)
          for (const node of this.nodesOf(subject)) dropRemote(touch(node), remote);
        if (groups.size === 0) {
          this.subjectGroups.delete(subject);
          this.subjectRemotes.delete(subject);
        }
      }
    }

    // Endpoints: which subjects are local where.
    const endpointUp = new Map<string, EndpointInfo[]>();
    const endpointRm = new Map<string, string[]>();
    const leave = (e: EndpointInfo): void => {
      if (!e.node) return;
      this.nodePods.get(e.node)?.delete(e.pod);
      push(endpointRm, e.node, e.pod);
      const m = touch(e.node);
      const c = m.subjects.get(e.identity) ?? 0;
      if (c > 1) {
        m.subjects.set(e.identity, c - 1);
        return;
      }
      m.subjects.delete(e.identity);
      this.subjectNodes.get(e.identity)?.delete(e.node);
      if (this.subjectNodes.get(e.identity)?.size === 0) this.subjectNodes.delete(e.identity);
      for (const r of this.subjectRemotes.get(e.identity)?.keys() ?? [])
        if (r !== 0) dropRemote(m, r);
    };
    const join = (e: EndpointInfo): void => {
      if (!e.node) return;
      let pods = this.nodePods.get(e.node);
      if (!pods) this.nodePods.set(e.node, (pods = new Set()));
      pods.add(e.pod);
      push(endpointUp, e.node, e);
      const m = touch(e.node);
      const c = m.subjects.get(e.identity) ?? 0;
      m.subjects.set(e.identity, c + 1);
      if (c > 0) return;
      let nodes = this.subjectNodes.get(e.identity);
      if (!nodes) this.subjectNodes.set(e.identity, (nodes = new Set()));
      nodes.add(e.node);
      push(newSubjects, e.node, e.identity);
      for (const r of this.subjectRemotes.get(e.identity)?.keys() ?? [])
        if (r !== 0) addRemote(m, r);
    };
    for (const pod of delta.endpoints.remove) {
      const old = this.endpoints.get(pod);
      if (!old) continue;
      this.endpoints.delete(pod);
      leave(old);
    }
    for (const e of delta.endpoints.upsert) {
      const old = this.endpoints.get(e.pod);
      if (old) leave(old);
      this.endpoints.set(e.pod, e);
      join(e);
    }

    // Ipcache: which prefixes each identity has.
    const ipUp = new Map<number, { prefix: string; identity: number }[]>();
    const ipRm = new Map<number, string[]>();
    const unmap = (prefix: string): void => {
      const old = this.prefixIdentity.get(prefix);
      if (old === undefined) return;
      this.prefixIdentity.delete(prefix);
      const set = this.identityPrefixes.get(old);
      set?.delete(prefix);
      if (set?.size === 0) this.identityPrefixes.delete(old);
      push(ipRm, old, prefix);
    };
    for (const p of delta.ipcache.remove) unmap(p);
    for (const u of delta.ipcache.upsert) {
      if (this.prefixIdentity.get(u.prefix) !== u.identity) unmap(u.prefix);
      this.prefixIdentity.set(u.prefix, u.identity);
      let set = this.identityPrefixes.get(u.identity);
      if (!set) this.identityPrefixes.set(u.identity, (set = new Set()));
      set.add(u.prefix);
      push(ipUp, u.identity, u);
    }

    // The delta's pieces, by class.
    for (const [s, list] of policyUp) this.parts.set(`PU:${s}`, { policy: list });
    for (const [s, list] of policyRm) this.parts.set(`PR:${s}`, { removedPolicy: list });
    for (const i of delta.isolation.upsert) this.parts.set(`LU:${i.identity}`, { isolation: [i] });
    for (const i of delta.isolation.remove) this.parts.set(`LR:${i}`, { removedIsolation: [i] });
    for (const [n, list] of endpointUp) this.parts.set(`EU:${n}`, { endpoints: list });
    for (const [n, list] of endpointRm) this.parts.set(`ER:${n}`, { removedEndpoints: list });
    for (const [id, list] of ipUp) this.parts.set(`CU:${id}`, { ipcache: list });
    for (const [id, list] of ipRm) this.parts.set(`CR:${id}`, { removedPrefixes: list });
    for (const i of delta.identities.upsert) this.parts.set(`NU:${i.id}`, { identities: [i] });
    for (const i of delta.identities.remove) this.parts.set(`NR:${i}`, { removedIdentities: [i] });

    const policyUpIds = [...policyUp.keys()];
    const policyRmIds = [...policyRm.keys()];
    const isoUp = delta.isolation.upsert.map((i) => i.identity);
    const isoRm = delta.isolation.remove;
    const ipUpIds = [...ipUp.keys()];
    const ipRmIds = [...ipRm.keys()];
    const idUp = delta.identities.upsert.map((i) => i.id);
    const idRm = delta.identities.remove;

    const frames = new Map<string, FrameKeys>();
    for (const [node, m] of this.nodes) {
      const old = before.get(node) ?? m;
      const keys: FrameKeys = [];
      for (const s of policyUpIds) if (m.subjects.has(s)) keys.push(`PU:${s}`);
      for (const s of policyRmIds) if (old.subjects.has(s)) keys.push(`PR:${s}`);
      for (const s of isoUp) if (m.subjects.has(s)) keys.push(`LU:${s}`);
      for (const s of isoRm) if (old.subjects.has(s)) keys.push(`LR:${s}`);
      if (endpointUp.has(node)) keys.push(`EU:${node}`);
      if (endpointRm.has(node)) keys.push(`ER:${node}`);
      for (const id of ipUpIds) if (ipVisible(m, id)) keys.push(`CU:${id}`);
      for (const id of ipRmIds) if (ipVisible(old, id)) keys.push(`CR:${id}`);
      for (const id of idUp) if (identityVisible(m, id)) keys.push(`NU:${id}`);
      for (const id of idRm) if (identityVisible(old, id)) keys.push(`NR:${id}`);
      if (old !== m) this.flips(old, m, keys);
      if (keys.length > 0) frames.set(node, keys);
      if (m.subjects.size === 0 && m.remotes.size === 0 && !this.nodePods.get(node)?.size)
        this.nodes.delete(node);
    }
    return { frames, newSubjects };
  }

  /** Pieces for what a membership change makes appear or disappear on a node. */
  private flips(old: Membership, m: Membership, keys: FrameKeys): void {
    for (const s of m.subjects.keys()) if (!old.subjects.has(s)) keys.push(`S+:${s}`);
    for (const s of old.subjects.keys()) if (!m.subjects.has(s)) keys.push(`S-:${s}`);
    const wide =
      old.remotes.has(Reserved.World) !== m.remotes.has(Reserved.World) ||
      old.derived > 0 !== m.derived > 0;
    const candidates = new Set<number>();
    if (wide) for (const id of this.identityPrefixes.keys()) candidates.add(id);
    for (const r of m.remotes.keys()) if (!old.remotes.has(r)) candidates.add(r);
    for (const r of old.remotes.keys()) if (!m.remotes.has(r)) candidates.add(r);
    for (const id of candidates) {
      const was = ipVisible(old, id);
      const is = ipVisible(m, id);
      if (is && !was) keys.push(`I+:${id}`);
      else if (was && !is) keys.push(`I-:${id}`);
    }
    const ids = new Set<number>(candidates);
    for (const s of m.subjects.keys()) ids.add(s);
    for (const s of old.subjects.keys()) ids.add(s);
    for (const id of ids) {
      const was = identityVisible(old, id);
      const is = identityVisible(m, id);
      if (is && !was) keys.push(`N+:${id}`);
      else if (was && !is) keys.push(`N-:${id}`);
    }
  }

  /** The keys of a full snapshot of a node's view. */
  snapshotKeys(node: string): FrameKeys {
    const m = this.nodes.get(node) ?? emptyMembership();
    const keys: FrameKeys = [];
    for (const s of m.subjects.keys()) keys.push(`S+:${s}`);
    const ids = new Set<number>(m.subjects.keys());
    if (m.remotes.has(Reserved.World)) for (const id of this.identityPrefixes.keys()) ids.add(id);
    else {
      for (const r of m.remotes.keys()) ids.add(r);
      if (m.derived > 0)
        for (const id of this.identityPrefixes.keys()) if (isLocal(id)) ids.add(id);
    }
    for (const id of ids) {
      if (ipVisible(m, id) && this.identityPrefixes.has(id)) keys.push(`I+:${id}`);
      if (this.state?.identities.has(id)) keys.push(`N+:${id}`);
    }
    if (this.nodePods.get(node)?.size) keys.push(`E:${node}`);
    return keys;
  }

  /** The encoded piece with this key (encoded once per revision). */
  piece(key: string): Uint8Array {
    let p = this.pieces.get(key);
    if (!p) {
      p = encodePiece(this.partsOf(key));
      this.pieces.set(key, p);
    }
    return p;
  }

  private partsOf(key: string): PieceParts {
    const delta = this.parts.get(key);
    if (delta) return delta;
    const state = this.state;
    const colon = key.indexOf(':');
    const kind = key.slice(0, colon);
    const arg = key.slice(colon + 1);
    const id = Number(arg);
    switch (kind) {
      case 'S+': {
        const policy: PolicyMapEntry[] = [];
        for (const gk of this.subjectGroups.get(id) ?? [])
          for (const e of state?.policy.get(gk)?.values() ?? []) policy.push(e);
        const iso = state?.isolation.get(id);
        return { policy, isolation: iso ? [{ identity: id, ...iso }] : [] };
      }
      case 'S-': {
        const removedPolicy: PolicyMapKey[] = [];
        for (const gk of this.subjectGroups.get(id) ?? [])
          for (const e of state?.policy.get(gk)?.values() ?? []) removedPolicy.push(e.key);
        return { removedPolicy, removedIsolation: [id] };
      }
      case 'I+':
        return {
          ipcache: [...(this.identityPrefixes.get(id) ?? [])].map((prefix) => ({
            prefix,
            identity: id,
          })),
        };
      case 'I-':
        return { removedPrefixes: [...(this.identityPrefixes.get(id) ?? [])] };
      case 'N+': {
        const info = state?.identities.get(id);
        return { identities: info ? [info] : [] };
      }
      case 'N-':
        return { removedIdentities: [id] };
      case 'E':
        return {
          endpoints: [...(this.nodePods.get(arg) ?? [])].flatMap((p) => {
            const e = this.endpoints.get(p);
            return e ? [e] : [];
          }),
        };
      default:
        return {};
    }
  }
}

function addRemote(m: Membership, r: number): void {
  const c = m.remotes.get(r) ?? 0;
  m.remotes.set(r, c + 1);
  if (c === 0 && isLocal(r)) m.derived++;
}

function dropRemote(m: Membership, r: number): void {
  const c = m.remotes.get(r) ?? 0;
  if (c <= 1) {
    m.remotes.delete(r);
    if (c === 1 && isLocal(r)) m.derived--;
  } else m.remotes.set(r, c - 1);
}

const EMPTY: ReadonlySet<string> = new Set();
