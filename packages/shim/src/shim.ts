/**
 * The shim: keeps this node's kernel maps equal to the compiled policy for its endpoints.
 *
 * Inputs are a compiled state (from a policy source) and the endpoints the CNI plugin
 * registers; the output is the datapath's maps and the tc programs on each endpoint's
 * host veth. Every change goes through one path — compute the desired maps, diff, apply —
 * and a failed apply (a map overflow, a kernel error) changes nothing that was enforced
 * and is reported loudly (log, metric, status).
 */
import { emptyState, parseAddress, type CompiledState } from '@palisade/core';
import { addon, type RingbufHandle } from './native/addon.js';
import { ShimError, type ShimErrorCode } from './errors.js';
import type { Datapath } from './bpf/datapath.js';
import { COUNTERS, COUNTER_SLOTS, flowEvent } from './bpf/layouts.js';
import {
  desiredIpcache,
  emptyDesiredMaps,
  fillDesired,
  policyIndex,
  type PolicyIndex,
} from './reconciler/desired.js';
import { Reconciler, type ApplyResult } from './reconciler/reconciler.js';
import type { EndpointRegistry } from './reconciler/registry.js';
import type { LocalEndpoint } from './reconciler/endpoint.js';
import { FlowBuffer } from './flows/flowBuffer.js';
import { flowRecord, type FlowRecord } from './flows/flowRecord.js';
import type { Logger } from './log.js';
import type { DistributionStatus } from './client/operatorConnection.js';

/** Options of a shim. */
export interface ShimOptions {
  readonly node: string;
  readonly datapath: Datapath;
  readonly registry: EndpointRegistry;
  readonly log: Logger;
  /** Flow records kept (default 4096). */
  readonly flowCapacity?: number;
  /** Flow events per second per CPU the datapath may send (default 1000), and burst (default 200). */
  readonly eventsPerSec?: number;
  readonly eventsBurst?: number;
  /** Port of the node's L7 proxy for redirect entries (default 0: none). */
  readonly proxyPort?: number;
  /** The operator client's state, shown in the status (when policy comes from the operator). */
  readonly distribution?: () => DistributionStatus | undefined;
  /**
   * This node's own addresses (its interfaces' and the pods' gateway addresses): the ipcache
   * maps them to `host`, so traffic between a pod and its own node is `host`, not
   * `remote-node` (the cluster-wide entry) or `world` (the gateway, in no cluster entry).
   */
  readonly hostAddresses?: readonly string[];
}

/** A failure the shim keeps for its status. */
export interface ShimFailure {
  readonly code: ShimErrorCode;
  readonly message: string;
  readonly time: string;
}

/** The shim's state, as `GET /v1/status` shows it. */
export interface ShimStatus {
  readonly node: string;
  readonly pinDir: string;
  readonly endpoints: number;
  readonly maps: Record<string, { entries: number; capacity: number }>;
  readonly policyEpoch: number;
  readonly lastApply?: ApplyResult;
  readonly lastError?: ShimFailure;
  readonly counters: Record<string, number>;
  readonly flowsSeen: number;
  /** The process's memory (bytes): resident set and the JavaScript heap in use. */
  readonly memory: { rss: number; heapUsed: number; external: number };
  /** The policy stream from the operator, when that is the source. */
  readonly distribution?: DistributionStatus;
}

/** One node's shim. */
export class Shim {
  private state: CompiledState = emptyState();
  /**
   * False from a `start()` without a state until the first `setState`: the kernel holds
   * what an earlier shim wrote, and reconciling the empty placeholder would erase it.
   */
  private stateKnown = true;
  /** The desired maps, refilled in place on every reconcile (packed: no object per entry). */
  private readonly desired = emptyDesiredMaps();
  /** rule_ref → rule ids of the last successful apply (names flow events). */
  private appliedRules: ReadonlyMap<number, readonly string[]> = new Map();
  /**
   * What depends on the compiled state alone, computed once per state: whether
   * `desired.ipcache` holds this state's prefixes (endpoint changes reuse it), the policy
   * groups of each subject, and the pod of each address (flow records).
   */
  private perState: { ipcache?: true; index?: PolicyIndex; podByIp?: Map<string, string> } = {};
  private readonly reconciler: Reconciler;
  private readonly flows: FlowBuffer<FlowRecord>;
  private ring: RingbufHandle | undefined;
  private lastApply: ApplyResult | undefined;
  private lastError: ShimFailure | undefined;
  private readonly errorsByCode = new Map<ShimErrorCode, number>();
  private applies = 0;
  private driftRepaired = 0;

  constructor(private readonly o: ShimOptions) {
    this.reconciler = new Reconciler(o.datapath);
    this.flows = new FlowBuffer(o.flowCapacity ?? 4096);
  }

  /**
   * Adopts what the kernel holds: drops registrations whose device is gone, re-reads the
   * maps and re-attaches the programs on every endpoint (an atomic replace). With an
   * initial compiled state it then applies only the difference; without one it changes
   * no entry (the kernel keeps enforcing what it had until a state arrives).
   */
  start(initial?: CompiledState): ApplyResult | undefined {
    this.reconciler.setEventRate(this.o.eventsPerSec ?? 1000, this.o.eventsBurst ?? 200);
    for (const ep of this.o.registry.list()) {
      if (addon().ifindex(ep.hostIfName) !== ep.hostIfIndex) {
        this.o.log.warn('endpoint device is gone; forgetting it', {
          containerId: ep.containerId,
          pod: ep.pod,
          device: ep.hostIfName,
        });
        this.o.registry.remove(ep.containerId);
      }
    }
    let r: ApplyResult | undefined;
    if (initial) {
      this.state = initial;
      this.perState = {};
      r = this.reconcile({ resync: true });
    } else {
      this.stateKnown = false;
      this.reconciler.adopt();
    }
    for (const ep of this.o.registry.list()) this.o.datapath.attach(ep.hostIfIndex);
    this.ring = addon().ringbufOpen(this.o.datapath.eventsFd);
    return r;
  }

  /** Sets a new compiled state and applies it. */
  setState(state: CompiledState): ApplyResult {
    this.state = state;
    this.perState = {};
    this.stateKnown = true;
    return this.reconcile();
  }

  /** False after a `start()` without a state, until the first `setState`. */
  get hasState(): boolean {
    return this.stateKnown;
  }

  /**
   * Applies the current state; with `resync`, re-reads the kernel first (repairs drift).
   * Throws NOT_READY, changing nothing, while there is no state (see `hasState`).
   */
  reconcile(opts: { resync?: boolean } = {}): ApplyResult {
    if (!this.stateKnown)
      throw new ShimError(
        'NOT_READY',
        'no compiled policy yet (waiting for the operator); the kernel keeps what it holds',
      );
    const desired = this.desired;
    if (!this.perState.ipcache) {
      desiredIpcache(this.state, desired.ipcache, this.o.hostAddresses ?? []);
      this.perState.ipcache = true;
    }
    fillDesired(desired, this.state, this.o.registry.list(), {
      index: (this.perState.index ??= policyIndex(this.state)),
      ...(this.o.proxyPort !== undefined ? { proxyPort: this.o.proxyPort } : {}),
    });
    try {
      const r = this.reconciler.apply(desired, opts);
      this.appliedRules = new Map(desired.rules);
      this.lastApply = r;
      this.applies++;
      if (r.drift > 0) {
        this.driftRepaired += r.drift;
        this.o.log.warn('repaired drift in the kernel maps', { entries: r.drift });
      }
      return r;
    } catch (e) {
      this.fail(e);
      throw e;
    }
  }

  /**
   * Registers an endpoint: writes its map entries, then attaches the programs, so its
   * first packet is already enforced. Fails (and forgets it) when its device is missing.
   */
  register(ep: LocalEndpoint): void {
    validateEndpoint(ep);
    if (addon().ifindex(ep.hostIfName) !== ep.hostIfIndex)
      throw new ShimError(
        'INVALID_REQUEST',
        `device ${ep.hostIfName} with ifindex ${ep.hostIfIndex} does not exist on this node`,
      );
    const previous = this.o.registry.get(ep.containerId);
    this.o.registry.put(ep);
    try {
      this.reconcile();
      this.o.datapath.attach(ep.hostIfIndex);
    } catch (e) {
      if (previous) this.o.registry.put(previous);
      else this.o.registry.remove(ep.containerId);
      throw e;
    }
    this.o.log.info('endpoint registered', {
      containerId: ep.containerId,
      pod: ep.pod,
      device: ep.hostIfName,
      ips: ep.ips,
    });
  }

  /**
   * Removes an endpoint and its map entries. Returns false when it was not registered.
   * Without a state yet, its entries go with the first `setState`.
   */
  unregister(containerId: string): boolean {
    const ep = this.o.registry.remove(containerId);
    if (!ep) return false;
    if (this.stateKnown) this.reconcile();
    if (addon().ifindex(ep.hostIfName) === ep.hostIfIndex) this.o.datapath.detach(ep.hostIfIndex);
    this.o.log.info('endpoint removed', { containerId, pod: ep.pod });
    return true;
  }

  /** The registered endpoints. */
  endpoints(): LocalEndpoint[] {
    return this.o.registry.list();
  }

  /** Reads the flow events waiting in the ring buffer into the flow buffer. */
  pollFlows(max = 4096): number {
    if (!this.ring) return 0;
    const records = addon().ringbufConsume(this.ring, max);
    if (records.length === 0) return 0;
    const podByIp = (this.perState.podByIp ??= podsByAddress(this.state));
    const rules = this.appliedRules;
    const names = {
      node: this.o.node,
      endpointOf: (ifindex: number) => this.o.registry.byIfIndex(ifindex)?.pod,
      podOf: (ip: string) => {
        const a = parseAddress(ip);
        return a ? podByIp.get(`${a.family}:${a.addr}`) : undefined;
      },
      labelsOf: (id: number) => this.state.identities.get(id)?.labels,
      rulesOf: (ref: number) => rules.get(ref),
    };
    const now = new Date();
    for (const r of records) this.flows.push(flowRecord(flowEvent.decode(r), names, now));
    return records.length;
  }

  /** The most recent flow records, oldest first. */
  recentFlows(limit?: number): FlowRecord[] {
    return this.flows.recent(limit);
  }

  /** The datapath's counters, summed over CPUs. */
  counters(): Record<string, number> {
    const cpus = addon().numPossibleCpus();
    const out: Record<string, number> = {};
    const key = Buffer.alloc(4);
    for (let i = 0; i < Math.min(COUNTERS.length, COUNTER_SLOTS); i++) {
      key.writeUInt32LE(i, 0);
      const v = this.o.datapath.counters.lookup(key, 8 * cpus);
      let sum = 0n;
      if (v) for (let c = 0; c < cpus; c++) sum += v.readBigUInt64LE(c * 8);
      out[COUNTERS[i] as string] = Number(sum);
    }
    return out;
  }

  /** The shim's status. */
  status(): ShimStatus {
    const dp = this.o.datapath;
    const n = this.reconciler.believedCount();
    const distribution = this.o.distribution?.();
    return {
      node: this.o.node,
      pinDir: dp.pinDir,
      endpoints: this.o.registry.list().length,
      maps: {
        pal_ipcache: { entries: n.ipcache, capacity: dp.ipcache.capacity },
        pal_policy: { entries: n.policy, capacity: dp.policy.capacity },
        pal_endpoints: { entries: n.endpoints, capacity: dp.endpoints.capacity },
      },
      policyEpoch: this.reconciler.policyEpoch,
      ...(this.lastApply ? { lastApply: this.lastApply } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      counters: this.counters(),
      flowsSeen: this.flows.total,
      memory: (({ rss, heapUsed, external }) => ({ rss, heapUsed, external }))(
        process.memoryUsage(),
      ),
      ...(distribution ? { distribution } : {}),
    };
  }

  /** Prometheus text exposition of the shim's metrics. */
  metrics(): string {
    const s = this.status();
    const lines: string[] = [];
    const metric = (
      name: string,
      help: string,
      type: string,
      samples: [string, number][],
    ): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    const node = `node="${s.node}"`;
    metric(
      'palisade_datapath_packets_total',
      'Packets seen by the datapath, by outcome.',
      'counter',
      Object.entries(s.counters)
        .filter(([k]) => !k.startsWith('events_'))
        .map(([k, v]) => [`{${node},outcome="${k}"}`, v]),
    );
    metric(
      'palisade_flow_events_total',
      'Flow events, by fate.',
      'counter',
      Object.entries(s.counters)
        .filter(([k]) => k.startsWith('events_'))
        .map(([k, v]) => [`{${node},fate="${k.slice(7)}"}`, v]),
    );
    metric(
      'palisade_map_entries',
      'Entries the shim holds in each map.',
      'gauge',
      Object.entries(s.maps).map(([m, v]) => [`{${node},map="${m}"}`, v.entries]),
    );
    metric(
      'palisade_map_capacity',
      'Capacity of each map.',
      'gauge',
      Object.entries(s.maps).map(([m, v]) => [`{${node},map="${m}"}`, v.capacity]),
    );
    metric('palisade_endpoints', 'Endpoints on this node.', 'gauge', [[`{${node}}`, s.endpoints]]);
    metric('palisade_shim_applies_total', 'Successful applies to the kernel.', 'counter', [
      [`{${node}}`, this.applies],
    ]);
    metric(
      'palisade_shim_drift_repaired_total',
      'Map entries found changed behind the shim and repaired.',
      'counter',
      [[`{${node}}`, this.driftRepaired]],
    );
    metric(
      'palisade_shim_errors_total',
      'Failed applies and requests, by code.',
      'counter',
      [...this.errorsByCode].map(([code, v]) => [`{${node},code="${code}"}`, v]),
    );
    return `${lines.join('\n')}\n`;
  }

  /** Stops reading events. Programs stay attached and maps pinned. */
  close(): void {
    if (this.ring) addon().ringbufClose(this.ring);
    this.ring = undefined;
    this.o.datapath.close();
  }

  private fail(e: unknown): void {
    const code: ShimErrorCode = e instanceof ShimError ? e.code : 'KERNEL';
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    this.lastError = { code, message: (e as Error).message, time: new Date().toISOString() };
    this.o.log.error('apply failed; the kernel keeps what it had', {
      code,
      error: (e as Error).message,
    });
  }
}

/** Each endpoint address (`family:number`) → its pod. */
function podsByAddress(state: CompiledState): Map<string, string> {
  const out = new Map<string, string>();
  for (const ep of state.endpoints.values())
    for (const ip of ep.ips) {
      const a = parseAddress(ip);
      if (a) out.set(`${a.family}:${a.addr}`, ep.pod);
    }
  return out;
}

/** Checks the shape of an endpoint registration. */
export function validateEndpoint(ep: LocalEndpoint): void {
  const bad = (field: string, why: string): never => {
    throw new ShimError('INVALID_REQUEST', `endpoint ${field}: ${why}`);
  };
  if (
    typeof ep.containerId !== 'string' ||
    !/^[A-Za-z0-9][-A-Za-z0-9_.]{0,127}$/.test(ep.containerId)
  )
    bad('containerId', 'must be 1-128 characters of letters, digits, "-", "_" or "."');
  if (typeof ep.pod !== 'string' || ep.pod.length === 0) bad('pod', 'must be namespace/name');
  if (typeof ep.hostIfName !== 'string' || !/^[^\s/]{1,15}$/.test(ep.hostIfName))
    bad('hostIfName', 'must be a device name of at most 15 characters');
  if (!Number.isInteger(ep.hostIfIndex) || ep.hostIfIndex <= 0)
    bad('hostIfIndex', 'must be a positive integer');
  if (!Array.isArray(ep.ips) || ep.ips.length === 0) bad('ips', 'must list at least one address');
  for (const ip of ep.ips)
    if (!parseAddress(ip)) bad('ips', `${JSON.stringify(ip)} is not an address`);
}
