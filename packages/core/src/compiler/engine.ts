/**
 * The incremental policy compiler.
 *
 * Feed it namespaces, pods and validated policies in any order; `flush()` returns the
 * minimal delta to the compiled state (identities, ipcache, endpoints, isolation, policy
 * map) since the previous flush. Work per change is proportional to what the change
 * touches: a pod joins or leaves identities and selectors; only the
 * (subject, direction, remote) groups whose contributing rules changed are re-resolved,
 * and only their changed entries are emitted.
 *
 * Invariant (checked by property tests): for any sequence of changes, the state reached
 * by applying every delta equals — up to identity numbering — a compile from scratch of
 * the final objects.
 */
import { EngineError } from '../errors.js';
import type { IdentityNumbering } from '../identity/allocator.js';
import { InMemoryAllocator } from '../identity/allocator.js';
import {
  createLabelFilter,
  type LabelFilter,
  type LabelFilterConfig,
} from '../identity/labelFilter.js';
import { FIRST_LOCAL_IDENTITY, LAST_LOCAL_IDENTITY, Reserved } from '../identity/reserved.js';
import {
  identityKey,
  labelList,
  securityLabels,
  sortedLabels,
  type SecurityLabels,
} from '../identity/securityLabels.js';
import {
  formatPrefix,
  hostPrefix,
  parseAddress,
  prefixContains,
  type Prefix,
} from '../model/cidr.js';
import { NAMESPACE_NAME_LABEL, type Labels } from '../model/labels.js';
import { PROTOCOL_NUMBER } from '../model/ports.js';
import { EVERYTHING, selectorKeys } from '../model/selector.js';
import type { Direction, Peer, Policy, PolicyRef, PortMatch, Rule } from '../policy/types.js';
import {
  applyDelta,
  comparePolicyKeys,
  emptyState,
  policyGroupKey,
  type CompiledDelta,
  type CompiledState,
  type EndpointInfo,
  type IdentityInfo,
  type Isolation,
  type PolicyMapEntry,
  type PolicyMapKey,
} from './compiledState.js';
import { groupSlot, type Group, type PolicyState, type RuleState } from './engineState.js';
import { remoteKey, RemoteIdentity, SubjectIdentity } from './identities.js';
import type { NamespaceInput, PodInput } from './inputs.js';
import {
  portKeyNumber,
  resolveGroup,
  ruleValue,
  sameValue,
  type Contribution,
  type Verdict,
} from './mapState.js';
import { PrefixSet } from './prefixSet.js';
import {
  endpointMatches,
  PeerEntry,
  peerKey,
  peerMatches,
  scopeOf,
  ScopedIndex,
  SubjectEntry,
  subjectKey,
} from './selectorCache.js';

/** Options of the engine. */
export interface EngineOptions {
  /** Where pod identity numbers come from (default: a fresh in-memory allocator). */
  readonly numbering?: IdentityNumbering;
  /** Which pod labels are security-relevant (default: the brief's exclusion list). */
  readonly labelFilter?: LabelFilterConfig;
}

/** What the engine knows about a rule, for explanations. */
export interface RuleInfo {
  readonly id: string;
  readonly policy: PolicyRef;
  readonly path: string;
  readonly direction: Direction;
  readonly action: Rule['action'];
}

interface PodState {
  input: PodInput;
  subject: SubjectIdentity;
  ipKeys: string[];
}

/**
 * One ipcache entry. Several pods may claim one address for a while (an address reused
 * before the old pod object is gone); the owner is then the claimant with the smallest
 * `namespace/name`, so the result does not depend on the order updates arrive in.
 */
interface IpEntry {
  readonly prefix: Prefix;
  readonly claimants: Map<string, PodState | NodeClaim>;
  policy: boolean;
  remote: RemoteIdentity | undefined;
}

/**
 * A node address (or the address of a host-network pod): it maps to the reserved
 * remote-node identity. Node claims sort before pod claims (`\0` prefix), so an address a
 * node owns is never taken over by a pod that reuses it.
 */
interface NodeClaim {
  readonly key: string;
  readonly reserved: number;
}

function ownerOf(e: IpEntry): PodState | NodeClaim | undefined {
  let best: string | undefined;
  for (const k of e.claimants.keys()) if (best === undefined || k < best) best = k;
  return best === undefined ? undefined : e.claimants.get(best);
}

/** The incremental compiler. Not thread-safe; one instance per cluster view. */
export class PolicyEngine {
  private readonly numbering: IdentityNumbering;
  private readonly filter: LabelFilter;
  private readonly namespaces = new Map<string, Labels>();
  private readonly pods = new Map<string, PodState>();
  private readonly podsByNs = new Map<string, Set<PodState>>();
  private readonly subjects = new Map<string, SubjectIdentity>();
  private readonly subjectsById = new Map<number, SubjectIdentity>();
  private readonly subjectIndex = new ScopedIndex<SubjectIdentity>();
  private readonly remotes = new Map<string, RemoteIdentity>();
  private readonly remoteIndex = new ScopedIndex<RemoteIdentity>();
  private readonly ipEntries = new Map<string, IpEntry>();
  private readonly nodeIps = new Map<string, Map<string, Prefix>>();
  private readonly prefixes = new PrefixSet();
  private readonly policies = new Map<string, PolicyState>();
  private readonly peerEntries = new Map<string, PeerEntry>();
  private readonly peerIndex = new ScopedIndex<PeerEntry>();
  private readonly subjectEntries = new Map<string, SubjectEntry>();
  private readonly subjectEntryIndex = new ScopedIndex<SubjectEntry>();
  /** Rule id → the registered policy that owns it (the newest, during a replace). */
  private readonly rulesById = new Map<string, PolicyState>();
  private readonly live = new Map<number, { info: IdentityInfo; users: number }>();
  private nextLocal = FIRST_LOCAL_IDENTITY;

  private readonly dirtyGroups = new Set<Group>();
  private readonly dirtyIps = new Set<string>();
  private readonly dirtyPods = new Set<string>();
  private readonly dirtyIsolation = new Set<number>();
  private readonly dirtyIdentities = new Set<number>();
  private readonly state: CompiledState = emptyState();

  constructor(options: EngineOptions = {}) {
    this.numbering = options.numbering ?? new InMemoryAllocator();
    this.filter = createLabelFilter(options.labelFilter);
    for (const id of Object.values(Reserved))
      if (id !== Reserved.Unknown) this.acquireRemote(undefined, id, []);
  }

  // ---- inputs -------------------------------------------------------------------------

  /** Adds or replaces a namespace. */
  upsertNamespace(ns: NamespaceInput): void {
    const labels = sortedLabels({ ...ns.labels, [NAMESPACE_NAME_LABEL]: ns.name });
    const old = this.namespaces.get(ns.name);
    if (old && sameLabels(old, labels)) return;
    this.namespaces.set(ns.name, labels);
    for (const p of [...(this.podsByNs.get(ns.name) ?? [])]) this.upsertPod(p.input);
  }

  /** Removes a namespace (its pods keep only the name label until they are deleted). */
  deleteNamespace(name: string): void {
    if (!this.namespaces.delete(name)) return;
    for (const p of [...(this.podsByNs.get(name) ?? [])]) this.upsertPod(p.input);
  }

  /** Adds or replaces a pod. */
  upsertPod(input: PodInput): void {
    const key = `${input.namespace}/${input.name}`;
    if (input.hostNetwork) {
      this.deletePod(input.namespace, input.name);
      return;
    }
    const labels = this.labelsOf(input);
    const ips = new Map<string, Prefix>();
    for (const ip of input.ips) {
      const a = parseAddress(ip);
      if (a) ips.set(formatPrefix(hostPrefix(a)), hostPrefix(a));
    }
    const old = this.pods.get(key);
    if (
      old &&
      old.subject.key === identityKey(labels) &&
      old.ipKeys.length === ips.size &&
      old.ipKeys.every((k) => ips.has(k)) &&
      old.input.nodeName === input.nodeName
    ) {
      old.input = input;
      return;
    }
    const subject = this.acquireSubject(labels);
    const prev = old?.subject;
    if (prev !== subject) subject.podCount++;
    const st: PodState = old ?? { input, subject, ipKeys: [] };
    st.input = input;
    st.subject = subject;
    this.pods.set(key, st);
    let inNs = this.podsByNs.get(input.namespace);
    if (!inNs) this.podsByNs.set(input.namespace, (inNs = new Set()));
    inNs.add(st);
    for (const k of st.ipKeys) if (!ips.has(k)) this.detachClaim(k, podKey(st));
    for (const [k, p] of ips) this.attachClaim(k, p, st);
    st.ipKeys = [...ips.keys()];
    if (prev && prev !== subject) {
      prev.podCount--;
      this.dropSubjectIfUnused(prev);
    }
    this.dirtyPods.add(key);
  }

  /** Removes a pod. */
  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const st = this.pods.get(key);
    if (!st) return;
    for (const k of st.ipKeys) this.detachClaim(k, podKey(st));
    this.pods.delete(key);
    this.podsByNs.get(namespace)?.delete(st);
    st.subject.podCount--;
    this.dropSubjectIfUnused(st.subject);
    this.dirtyPods.add(key);
  }

  /**
   * Sets the addresses of a node (its InternalIP/ExternalIP addresses and the IPs of its
   * host-network pods): they map to the reserved remote-node identity in the ipcache. Each
   * node rewrites its own addresses to `host` locally.
   */
  upsertNode(name: string, addresses: readonly string[]): void {
    const ips = new Map<string, Prefix>();
    for (const ip of addresses) {
      const a = parseAddress(ip);
      if (a) ips.set(formatPrefix(hostPrefix(a)), hostPrefix(a));
    }
    const claim: NodeClaim = { key: `\0node/${name}`, reserved: Reserved.RemoteNode };
    const old = this.nodeIps.get(name) ?? new Map<string, Prefix>();
    for (const k of old.keys()) if (!ips.has(k)) this.detachClaim(k, claim.key);
    for (const [k, p] of ips) if (!old.has(k)) this.attachClaim(k, p, claim);
    if (ips.size > 0) this.nodeIps.set(name, ips);
    else this.nodeIps.delete(name);
  }

  /** Removes a node's addresses from the ipcache. */
  deleteNode(name: string): void {
    this.upsertNode(name, []);
  }

  /** The pods of a namespace, as last fed to the engine. */
  podsInNamespace(namespace: string): PodInput[] {
    return [...(this.podsByNs.get(namespace) ?? [])].map((p) => p.input);
  }

  /**
   * The security labels a pod has with the engine's current namespace labels, or with
   * `namespaceLabels` if given (what it will have once the namespace is updated to them).
   */
  podSecurityLabels(input: PodInput, namespaceLabels?: Labels): SecurityLabels {
    // (See podsInNamespace for the pods a namespace change re-labels.)
    return this.labelsOf(input, namespaceLabels);
  }

  /** Adds or replaces a validated policy. */
  upsertPolicy(policy: Policy): void {
    const old = this.policies.get(policy.key);
    const next = this.register(policy);
    this.policies.set(policy.key, next);
    if (old) this.unregister(old);
  }

  /** Removes a policy by key (`Kind/namespace/name`); unknown keys are ignored. */
  deletePolicy(key: string): void {
    const old = this.policies.get(key);
    if (!old) return;
    this.policies.delete(key);
    this.unregister(old);
  }

  // ---- output -------------------------------------------------------------------------

  /** Computes the delta since the last flush and applies it to the engine's own state. */
  flush(): CompiledDelta {
    // Dirty groups are re-resolved and diffed against what they last emitted; the state
    // takes each group's new map as is (this is the hot loop of a full compile).
    const policyUp: PolicyMapEntry[] = [];
    const policyRm: PolicyMapKey[] = [];
    for (const g of this.dirtyGroups) {
      const base = { subject: g.subject.id, direction: g.direction, remote: g.remoteId };
      const next: Map<number, PolicyMapEntry> =
        g.rules.size > 0 ? resolveGroup(this.contributions(g), base) : new Map<number, never>();
      for (const e of g.current.values()) if (!next.has(portKeyNumber(e.key))) policyRm.push(e.key);
      for (const e of next.values()) {
        const n = portKeyNumber(e.key);
        const old = g.current.get(n);
        if (old && sameValue(old.value, e.value)) next.set(n, old);
        else policyUp.push(e);
      }
      // The state shares the group's map: it is replaced, never mutated, after this point.
      g.current = next;
      if (next.size > 0) this.state.policy.set(g.key, next);
      else this.state.policy.delete(g.key);
      if (g.rules.size === 0 && g.subject.groups.get(g.slot) === g) g.subject.groups.delete(g.slot);
    }
    const ipUp: { prefix: string; identity: number }[] = [];
    const ipRm: string[] = [];
    for (const k of this.dirtyIps) {
      const id = this.ipEntries.get(k)?.remote?.id;
      const prev = this.state.ipcache.get(k);
      if (id === undefined) {
        if (prev !== undefined) ipRm.push(k);
      } else if (prev !== id) ipUp.push({ prefix: k, identity: id });
    }
    const epUp: EndpointInfo[] = [];
    const epRm: string[] = [];
    for (const k of this.dirtyPods) {
      const st = this.pods.get(k);
      const prev = this.state.endpoints.get(k);
      if (!st) {
        if (prev) epRm.push(k);
        continue;
      }
      const info: EndpointInfo = {
        pod: k,
        identity: st.subject.id,
        ips: isSorted(st.input.ips) ? st.input.ips : [...st.input.ips].sort(),
        ...(st.input.nodeName ? { node: st.input.nodeName } : {}),
      };
      if (!prev || JSON.stringify(prev) !== JSON.stringify(info)) epUp.push(info);
    }
    const isoUp: ({ identity: number } & Isolation)[] = [];
    const isoRm: number[] = [];
    for (const id of this.dirtyIsolation) {
      const s = this.subjectsById.get(id);
      const prev = this.state.isolation.get(id);
      if (!s) {
        if (prev) isoRm.push(id);
        continue;
      }
      const iso = { ingress: s.isolation.ingress > 0, egress: s.isolation.egress > 0 };
      if (!prev || prev.ingress !== iso.ingress || prev.egress !== iso.egress)
        isoUp.push({ identity: id, ...iso });
    }
    const idUp: IdentityInfo[] = [];
    const idRm: number[] = [];
    for (const id of this.dirtyIdentities) {
      const l = this.live.get(id);
      if (l && !this.state.identities.has(id)) idUp.push(l.info);
      else if (!l && this.state.identities.has(id)) idRm.push(id);
    }
    policyUp.sort((a, b) => comparePolicyKeys(a.key, b.key));
    policyRm.sort(comparePolicyKeys);
    const delta: CompiledDelta = {
      identities: { upsert: idUp.sort((a, b) => a.id - b.id), remove: idRm.sort((a, b) => a - b) },
      ipcache: { upsert: ipUp.sort((a, b) => cmp(a.prefix, b.prefix)), remove: ipRm.sort() },
      endpoints: { upsert: epUp.sort((a, b) => cmp(a.pod, b.pod)), remove: epRm.sort() },
      isolation: {
        upsert: isoUp.sort((a, b) => a.identity - b.identity),
        remove: isoRm.sort((a, b) => a - b),
      },
      policy: { upsert: policyUp, remove: policyRm },
    };
    // The policy part of our own state was updated group by group above.
    applyDelta(this.state, { ...delta, policy: { upsert: [], remove: [] } });
    this.dirtyGroups.clear();
    this.dirtyIps.clear();
    this.dirtyPods.clear();
    this.dirtyIsolation.clear();
    this.dirtyIdentities.clear();
    return delta;
  }

  /** The compiled state as of the last flush. Read-only: do not mutate. */
  get compiled(): CompiledState {
    return this.state;
  }

  /** The rule behind a rule id in a map value. */
  ruleInfo(id: string): RuleInfo | undefined {
    const owner = this.rulesById.get(id);
    const rule = owner?.policy.rules.find((r) => r.id === id);
    if (!owner || !rule) return undefined;
    return {
      id,
      policy: owner.policy.ref,
      path: rule.path,
      direction: rule.direction,
      action: rule.action,
    };
  }

  /** The policies that select pods of this identity and isolate them in `direction`. */
  isolatingPolicies(identity: number, direction: Direction): PolicyRef[] {
    const s = this.subjectsById.get(identity);
    if (!s) return [];
    const out = new Map<string, PolicyRef>();
    for (const e of s.entries)
      for (const p of e.users)
        if (p.policy.isolates[direction]) out.set(p.policy.key, p.policy.ref);
    return [...out.entries()].sort((a, b) => cmp(a[0], b[0])).map((e) => e[1]);
  }

  /**
   * The identities of the pods a registered policy selects (its subjects), as of the last
   * change fed in; empty for an unknown key.
   */
  policySubjects(key: string): number[] {
    const ps = this.policies.get(key);
    return ps ? [...ps.subject.matches].map((s) => s.id) : [];
  }

  /** Keys of the registered policies (`Kind/namespace/name`). */
  policyKeys(): IterableIterator<string> {
    return this.policies.keys();
  }

  /** Warnings about a registered policy (e.g. selecting on a label excluded from identities). */
  policyWarnings(key: string): readonly string[] {
    return this.warningsOf.get(key) ?? [];
  }

  private readonly warningsOf = new Map<string, string[]>();

  // ---- identities ---------------------------------------------------------------------

  private labelsOf(input: PodInput, namespaceLabels?: Labels): SecurityLabels {
    return securityLabels({
      namespace: input.namespace,
      serviceAccount: input.serviceAccount,
      podLabels: input.labels,
      namespaceLabels: namespaceLabels
        ? sortedLabels({ ...namespaceLabels, [NAMESPACE_NAME_LABEL]: input.namespace })
        : (this.namespaces.get(input.namespace) ?? {
            [NAMESPACE_NAME_LABEL]: input.namespace,
          }),
      namespaceLabelsSorted: true,
      namedPorts: input.namedPorts,
      filter: this.filter,
    });
  }

  private identityUp(id: number, labels: () => string[]): void {
    const l = this.live.get(id);
    if (l) l.users++;
    else this.live.set(id, { info: { id, labels: labels() }, users: 1 });
    this.dirtyIdentities.add(id);
  }

  private identityDown(id: number): void {
    const l = this.live.get(id);
    if (l && --l.users === 0) this.live.delete(id);
    this.dirtyIdentities.add(id);
  }

  private acquireSubject(labels: SecurityLabels): SubjectIdentity {
    const key = identityKey(labels);
    const have = this.subjects.get(key);
    if (have) return have;
    const s = new SubjectIdentity(this.numbering.acquire(key, labels), key, labels);
    this.subjects.set(key, s);
    this.subjectsById.set(s.id, s);
    this.subjectIndex.add(labels.namespace, s);
    this.identityUp(s.id, () => labelList(labels));
    this.dirtyIsolation.add(s.id);
    for (const e of this.subjectEntryIndex.candidates(labels.namespace))
      if (endpointMatches(e.match, labels)) {
        e.matches.add(s);
        s.entries.add(e);
        for (const p of e.users) this.joinPolicy(s, p, 1);
      }
    return s;
  }

  private dropSubjectIfUnused(s: SubjectIdentity): void {
    if (s.podCount > 0) return;
    for (const e of s.entries) {
      e.matches.delete(s);
      for (const p of e.users) this.joinPolicy(s, p, -1);
    }
    s.entries.clear();
    this.subjects.delete(s.key);
    if (this.subjectsById.get(s.id) === s) this.subjectsById.delete(s.id);
    this.subjectIndex.delete(s.labels.namespace, s);
    this.numbering.drop(s.key);
    this.identityDown(s.id);
    this.dirtyIsolation.add(s.id);
  }

  private acquireRemote(
    subject: SubjectIdentity | undefined,
    reserved: number | undefined,
    cidrs: string[],
  ): RemoteIdentity {
    const key = remoteKey(subject, reserved, cidrs);
    let r = this.remotes.get(key);
    if (!r) {
      let id: number;
      if (cidrs.length > 0) {
        if (this.nextLocal > LAST_LOCAL_IDENTITY)
          throw new EngineError('IdentityExhausted', 'local identity numbers exhausted');
        id = this.nextLocal++;
      } else id = subject ? subject.id : (reserved as number);
      const created = new RemoteIdentity(id, key, subject, reserved, cidrs);
      r = created;
      this.remotes.set(key, r);
      this.remoteIndex.add(r.namespace, r);
      this.identityUp(id, () => created.labelList((s) => labelList(s.labels)));
      for (const e of this.peerIndex.candidates(r.namespace))
        if (peerMatches(e.peer, r)) {
          e.matches.add(r);
          r.entries.add(e);
          for (const rs of e.users)
            for (const s of rs.policy.subject.matches) this.bump(s, rs, r, 1);
        }
    }
    r.refs++;
    return r;
  }

  private releaseRemote(r: RemoteIdentity): void {
    if (--r.refs > 0) return;
    for (const e of r.entries) {
      e.matches.delete(r);
      for (const rs of e.users) for (const s of rs.policy.subject.matches) this.bump(s, rs, r, -1);
    }
    r.entries.clear();
    this.remotes.delete(r.key);
    this.remoteIndex.delete(r.namespace, r);
    this.identityDown(r.id);
  }

  // ---- ipcache ------------------------------------------------------------------------

  private attachClaim(key: string, prefix: Prefix, claim: PodState | NodeClaim): void {
    let e = this.ipEntries.get(key);
    if (!e)
      this.ipEntries.set(
        key,
        (e = { prefix, claimants: new Map(), policy: false, remote: undefined }),
      );
    e.claimants.set(claimKey(claim), claim);
    this.refreshIp(key);
  }

  private detachClaim(key: string, claimantKey: string): void {
    const e = this.ipEntries.get(key);
    if (!e?.claimants.delete(claimantKey)) return;
    this.refreshIp(key);
  }

  /** Brings one ipcache entry in line with its owner and the policy prefixes around it. */
  private refreshIp(key: string): void {
    const e = this.ipEntries.get(key);
    if (!e) return;
    const owner = ownerOf(e);
    if (!owner && !e.policy) {
      if (e.remote) this.releaseRemote(e.remote);
      this.ipEntries.delete(key);
      this.dirtyIps.add(key);
      return;
    }
    const subject = owner && 'subject' in owner ? owner.subject : undefined;
    const reserved = subject
      ? undefined
      : owner && 'reserved' in owner
        ? owner.reserved
        : Reserved.World;
    const cidrs = this.prefixes.containing(e.prefix);
    if (e.remote?.key === remoteKey(subject, reserved, cidrs)) return;
    const r = this.acquireRemote(subject, reserved, cidrs);
    if (e.remote) this.releaseRemote(e.remote);
    e.remote = r;
    this.dirtyIps.add(key);
  }

  private prefixChanged(p: Prefix, added: boolean): void {
    const key = formatPrefix(p);
    if (added && !this.ipEntries.has(key))
      this.ipEntries.set(key, { prefix: p, claimants: new Map(), policy: true, remote: undefined });
    const own = this.ipEntries.get(key);
    if (own) own.policy = added;
    const inside = [...this.ipEntries.entries()]
      .filter(([, e]) => prefixContains(p, e.prefix))
      .map(([k]) => k);
    for (const k of inside) this.refreshIp(k);
  }

  // ---- policies -----------------------------------------------------------------------

  private register(policy: Policy): PolicyState {
    const prefixes: Prefix[] = [];
    for (const r of policy.rules)
      if (r.peers !== 'any')
        for (const p of r.peers) if (p.kind === 'cidr') prefixes.push(p.cidr, ...p.except);
    for (const p of prefixes) if (this.prefixes.add(p)) this.prefixChanged(p, true);
    const subject = this.subjectEntry(policy.subject);
    const rules: RuleState[] = [];
    const ps: PolicyState = { policy, subject, rules, prefixes };
    for (const rule of policy.rules) {
      const named =
        rule.ports !== 'any' ? rule.ports.filter((p) => typeof p.port === 'string') : [];
      if (
        rule.peers === 'any' &&
        rule.direction === 'egress' &&
        named.length > 0 &&
        rule.ports !== 'any'
      ) {
        const numbered = rule.ports.filter((p) => typeof p.port !== 'string');
        if (numbered.length > 0) rules.push(this.ruleState(rule, ps, 'any', numbered));
        const allPods = this.peerEntry({
          kind: 'endpoints',
          namespaces: { kind: 'selector', selector: EVERYTHING },
          pods: EVERYTHING,
        });
        rules.push(this.ruleState(rule, ps, [allPods], named));
      } else {
        // Equal peers share one entry; each entry counts once per rule.
        const peers =
          rule.peers === 'any' ? 'any' : [...new Set(rule.peers.map((p) => this.peerEntry(p)))];
        rules.push(this.ruleState(rule, ps, peers, rule.ports));
      }
      this.rulesById.set(rule.id, ps);
    }
    for (const rs of rules) if (rs.peers !== 'any') for (const e of rs.peers) e.users.add(rs);
    subject.users.add(ps);
    for (const s of subject.matches) this.joinPolicy(s, ps, 1);
    const warnings = [...policy.warnings, ...this.excludedKeyWarnings(policy)];
    if (warnings.length > 0) this.warningsOf.set(policy.key, warnings);
    else this.warningsOf.delete(policy.key);
    return ps;
  }

  private unregister(ps: PolicyState): void {
    for (const s of ps.subject.matches) this.joinPolicy(s, ps, -1);
    ps.subject.users.delete(ps);
    if (ps.subject.users.size === 0) {
      for (const s of ps.subject.matches) s.entries.delete(ps.subject);
      this.subjectEntries.delete(ps.subject.key);
      this.subjectEntryIndex.delete(scopeOf(ps.subject.match), ps.subject);
    }
    for (const rs of ps.rules) {
      if (rs.peers === 'any') continue;
      for (const e of rs.peers) {
        e.users.delete(rs);
        if (e.users.size > 0) continue;
        for (const r of e.matches) r.entries.delete(e);
        this.peerEntries.delete(e.key);
        this.peerIndex.delete(scopeOf(e.peer), e);
      }
    }
    for (const rule of ps.policy.rules)
      if (this.rulesById.get(rule.id) === ps) this.rulesById.delete(rule.id);
    if (this.policies.get(ps.policy.key) === undefined) this.warningsOf.delete(ps.policy.key);
    for (const p of ps.prefixes) if (this.prefixes.remove(p)) this.prefixChanged(p, false);
  }

  private subjectEntry(m: Policy['subject']): SubjectEntry {
    const key = subjectKey(m);
    let e = this.subjectEntries.get(key);
    if (e) return e;
    e = new SubjectEntry(key, m);
    this.subjectEntries.set(key, e);
    const scope = scopeOf(m);
    this.subjectEntryIndex.add(scope, e);
    for (const s of this.subjectIndex.within(scope))
      if (endpointMatches(m, s.labels)) {
        e.matches.add(s);
        s.entries.add(e);
      }
    return e;
  }

  private peerEntry(p: Peer): PeerEntry {
    const key = peerKey(p);
    let e = this.peerEntries.get(key);
    if (e) return e;
    e = new PeerEntry(key, p);
    this.peerEntries.set(key, e);
    const scope = scopeOf(p);
    this.peerIndex.add(scope, e);
    for (const r of this.remoteIndex.within(scope))
      if (peerMatches(p, r)) {
        e.matches.add(r);
        r.entries.add(e);
      }
    return e;
  }

  private joinPolicy(s: SubjectIdentity, ps: PolicyState, sign: 1 | -1): void {
    if (ps.policy.isolates.ingress) s.isolation.ingress += sign;
    if (ps.policy.isolates.egress) s.isolation.egress += sign;
    this.dirtyIsolation.add(s.id);
    for (const rs of ps.rules) {
      if (rs.peers === 'any') this.bump(s, rs, undefined, sign);
      else for (const e of rs.peers) for (const r of e.matches) this.bump(s, rs, r, sign);
    }
  }

  private bump(
    s: SubjectIdentity,
    rs: RuleState,
    remote: RemoteIdentity | undefined,
    sign: number,
  ): void {
    const remoteId = remote ? remote.id : 0;
    const slot = groupSlot(rs.rule.direction, remoteId);
    let g = s.groups.get(slot);
    if (!g) {
      g = {
        key: policyGroupKey(s.id, rs.rule.direction, remoteId),
        slot,
        subject: s,
        direction: rs.rule.direction,
        remoteId,
        remote,
        rules: new Map(),
        current: NO_ENTRIES,
      };
      s.groups.set(slot, g);
    }
    if (remote) g.remote = remote;
    const n = (g.rules.get(rs) ?? 0) + sign;
    if (n > 0) g.rules.set(rs, n);
    else g.rules.delete(rs);
    this.dirtyGroups.add(g);
  }

  private contributions(g: Group): Contribution[] {
    const out: Contribution[] = [];
    for (const rs of g.rules.keys()) {
      for (const c of rs.fixed) out.push(c);
      if (rs.named.length === 0) continue;
      const owner = g.direction === 'ingress' ? g.subject : g.remote?.subject;
      for (const pm of rs.named) {
        const np = owner?.labels.namedPorts.find(
          (n) => n.name === pm.port && n.protocol === pm.protocol,
        );
        if (np)
          out.push({
            protocol: PROTOCOL_NUMBER[pm.protocol],
            range: { lo: np.port, hi: np.port },
            value: rs.value,
          });
      }
    }
    return out;
  }

  /** Builds a rule's state: its map value and the contributions that do not depend on the group. */
  private ruleState(
    rule: Rule,
    policy: PolicyState,
    peers: RuleState['peers'],
    ports: 'any' | readonly PortMatch[],
  ): RuleState {
    const verdict: Verdict = rule.action === 'deny' ? 'deny' : rule.http ? 'redirect' : 'allow';
    const value = ruleValue(verdict, rule.id, rule.http);
    const fixed: Contribution[] = [];
    const named: PortMatch[] = [];
    if (ports === 'any') fixed.push({ protocol: 0, value });
    else
      for (const pm of ports) {
        const protocol = PROTOCOL_NUMBER[pm.protocol];
        if (typeof pm.port === 'string') named.push(pm);
        else if (protocol === 0 || pm.port === undefined) fixed.push({ protocol, value });
        else fixed.push({ protocol, range: { lo: pm.port, hi: pm.endPort ?? pm.port }, value });
      }
    return { rule, policy, peers, fixed, named, value };
  }

  private excludedKeyWarnings(policy: Policy): string[] {
    const out = new Set<string>();
    const check = (keys: string[], field: string): void => {
      for (const k of keys)
        if (!this.filter.isRelevant(k))
          out.add(
            `${field} selects on label "${k}", which is excluded from identities: it is ignored when matching pods`,
          );
    };
    check(selectorKeys(policy.subject.pods), 'pod selector');
    for (const r of policy.rules)
      if (r.peers !== 'any')
        for (const p of r.peers)
          if (p.kind === 'endpoints') check(selectorKeys(p.pods), `${r.path} peer`);
    return [...out].sort();
  }
}

/** The entries of a group that has never been flushed (shared, never mutated). */
const NO_ENTRIES: Map<number, PolicyMapEntry> = new Map();

function isSorted(a: readonly string[]): boolean {
  for (let i = 1; i < a.length; i++) if ((a[i - 1] as string) > (a[i] as string)) return false;
  return true;
}

function claimKey(c: PodState | NodeClaim): string {
  return 'reserved' in c ? c.key : podKey(c);
}

function podKey(p: PodState): string {
  return `${p.input.namespace}/${p.input.name}`;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
