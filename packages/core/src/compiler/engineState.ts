/**
 * The engine's bookkeeping records: policies and rules as registered, and groups — the
 * unit of incremental work, one per (subject identity, direction, remote identity).
 */
import type { Prefix } from '../model/cidr.js';
import type { Direction, Policy, PortMatch, Rule } from '../policy/types.js';
import type { RemoteIdentity, SubjectIdentity } from './identities.js';
import type { PolicyMapEntry } from './compiledState.js';
import type { Contribution, MapValue } from './mapState.js';
import type { PeerEntry, SubjectEntry } from './selectorCache.js';

/** A registered policy. */
export interface PolicyState {
  readonly policy: Policy;
  readonly subject: SubjectEntry;
  readonly rules: readonly RuleState[];
  /** Prefixes this policy holds a reference on. */
  readonly prefixes: readonly Prefix[];
}

/**
 * A registered rule. `peers: 'any'` is the wildcard remote. An egress rule to any peer
 * with named ports is registered twice: numbered ports to any peer, and the named ones
 * to every pod (only pods have named ports, and they are resolved on each destination).
 */
export interface RuleState {
  readonly rule: Rule;
  readonly policy: PolicyState;
  readonly peers: 'any' | readonly PeerEntry[];
  /** Contributions that do not depend on the group (protocol wildcard, numbered ports), built once. */
  readonly fixed: readonly Contribution[];
  /** Named ports, resolved per group (ingress: on the subject; egress: on the remote pod). */
  readonly named: readonly PortMatch[];
  /** The rule's map value, shared by its contributions. */
  readonly value: MapValue;
}

/** All rules contributing to one (subject, direction, remote) group, with the map entries they resolve to. */
export interface Group {
  /** `subject/direction/remote`, the group's key in the compiled state. */
  readonly key: string;
  /** The group's number among its subject's groups (`groupSlot`). */
  readonly slot: number;
  readonly subject: SubjectIdentity;
  readonly direction: Direction;
  /** 0 for the wildcard group. */
  readonly remoteId: number;
  /** Undefined for the wildcard group. */
  remote: RemoteIdentity | undefined;
  /** Rule → number of its peers that match the remote (1 for wildcard rules). */
  readonly rules: Map<RuleState, number>;
  /** The entries last emitted for this group, by packed port key (shared with the state). */
  current: Map<number, PolicyMapEntry>;
}

/** Number of a group among its subject's groups: remote identity and direction, no string built. */
export function groupSlot(direction: Direction, remoteId: number): number {
  return remoteId * 2 + (direction === 'egress' ? 1 : 0);
}
