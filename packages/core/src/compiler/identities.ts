/**
 * The identities the compiler works with.
 *
 * - A SubjectIdentity is a pod identity (cluster-wide number from the allocator): pods
 *   with the same security labels share it, and with it one compiled policy.
 * - A RemoteIdentity is what the ipcache maps an address to: a pod identity, or a reserved
 *   one (world, host, …), plus the set of policy prefixes that contain the address.
 *   When that set is empty the remote identity has the same number as its base; when it
 *   is not, it gets a locally derived number. This is how CIDR rules (ipBlock) match pod
 *   addresses exactly — with an LPM ipcache that returns one identity per address — while
 *   pods with the same labels still share their compiled policy.
 */
import type { SecurityLabels } from '../identity/securityLabels.js';
import { RESERVED_NAMES } from '../identity/reserved.js';
import type { Group } from './engineState.js';
import type { PeerEntry, SubjectEntry } from './selectorCache.js';

/** A pod identity. */
export class SubjectIdentity {
  /** Number of pods that have this identity. */
  podCount = 0;
  /** Its (direction, remote) groups, by `groupSlot`. */
  readonly groups = new Map<number, Group>();
  /** Subject selectors that select it. */
  readonly entries = new Set<SubjectEntry>();
  /** Number of selecting policies that isolate it, per direction. */
  readonly isolation = { ingress: 0, egress: 0 };

  constructor(
    readonly id: number,
    readonly key: string,
    readonly labels: SecurityLabels,
  ) {}
}

/** An identity as seen from the other end of a connection. */
export class RemoteIdentity {
  /** Peer selectors that match it. */
  readonly entries = new Set<PeerEntry>();
  /** Ipcache entries that map to it. */
  refs = 0;
  /** Fast membership for `cidrs`. */
  readonly cidrSet: ReadonlySet<string>;

  constructor(
    readonly id: number,
    readonly key: string,
    /** The pod identity, for addresses of pods. */
    readonly subject: SubjectIdentity | undefined,
    /** The reserved identity, for addresses that are not pods. */
    readonly reserved: number | undefined,
    /** Policy prefixes containing the address, shortest first. */
    readonly cidrs: readonly string[],
  ) {
    this.cidrSet = cidrs.length === 0 ? NO_CIDRS : new Set(cidrs);
  }

  /** The namespace of the pod, for pod identities. */
  get namespace(): string | undefined {
    return this.subject?.labels.namespace;
  }

  /** Flat labels for display and the identity table. */
  labelList(subjectLabels: (s: SubjectIdentity) => string[]): string[] {
    const base = this.subject
      ? subjectLabels(this.subject)
      : [`reserved:${RESERVED_NAMES[this.reserved ?? 2] ?? 'world'}`];
    return [...base, ...this.cidrs.map((c) => `cidr:${c}`)];
  }
}

const NO_CIDRS: ReadonlySet<string> = new Set();

/** The key of a remote identity. */
export function remoteKey(
  subject: SubjectIdentity | undefined,
  reserved: number | undefined,
  cidrs: readonly string[],
): string {
  return `${subject ? subject.key : `reserved:${reserved}`}#${cidrs.join(',')}`;
}
