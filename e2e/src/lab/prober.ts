/**
 * Real reachability: every ordered pair of distinct pods, for every port, probed from inside
 * the source pod's namespace with `palisade-probe-agent` (TCP connect + echo, UDP echo, SCTP
 * INIT/INIT ACK, ICMP echo). The result has the shape of `policy simulate -o json`, plus the
 * round trip (`ms`) or why it failed (`error`). Like `policy simulate`, the verdict is the
 * policy's: a TCP RST or SCTP ABORT from a port nobody serves counts as allowed (the packet
 * got in and the answer got out), with `note` saying nothing listens.
 *
 * Probes run in parallel: each source pod gets a few agents (at most `concurrency` in all),
 * each agent runs its probes one after the other.
 */
import { defaultAgentPath, ProbeAgent, type ProbeProtocol } from '@palisade/shim/testing';

/** A port to probe: a number, or a container port name resolved on each destination. */
export interface LabProbePort {
  readonly port: number | string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP' | 'ICMP';
}

/** A pod to probe from and to. */
export interface ProbePod {
  /** `namespace/name`. */
  readonly key: string;
  readonly netns: string;
  readonly ip: string;
  readonly ports: readonly {
    readonly name?: string;
    readonly containerPort: number;
    readonly protocol: string;
  }[];
}

/** One probed flow: the `policy simulate -o json` shape, plus `ms` or `error`. */
export interface LabProbeResult {
  readonly from: string;
  readonly to: string;
  readonly port: number | string;
  readonly protocol: string;
  readonly verdict: 'allow' | 'deny';
  /** Round trip in ms, when allowed. */
  readonly ms?: number;
  /** Why not, when denied (`timeout`, `no port named …`). */
  readonly error?: string;
  /** Allowed, but nothing listens on the port (the pod answered with a TCP RST / SCTP ABORT). */
  readonly note?: string;
}

/** Options of {@link probeAll}. */
export interface ProbeAllOptions {
  /** How long one probe waits for its answer (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Most agents running at once (default 48). */
  readonly concurrency?: number;
  /** A failed probe is tried this many more times before it counts as denied (default 0). */
  readonly retries?: number;
  /** Only these pairs (`from>to`), when given. */
  readonly only?: ReadonlySet<string>;
  /** Called after each probe (progress). */
  readonly onProbe?: (done: number, total: number) => void;
}

interface Task {
  readonly from: ProbePod;
  readonly to: ProbePod;
  readonly port: LabProbePort;
  readonly index: number;
}

/** The number a probe port means on `to`, or undefined for an unknown name. */
export function resolveProbePort(to: ProbePod, p: LabProbePort): number | undefined {
  if (typeof p.port === 'number') return p.port;
  return to.ports.find((c) => c.name === p.port && (c.protocol ?? 'TCP') === p.protocol)
    ?.containerPort;
}

/** Probes every ordered pair of distinct pods on every port, for real. */
export async function probeAll(
  pods: readonly ProbePod[],
  ports: readonly LabProbePort[],
  o: ProbeAllOptions = {},
): Promise<LabProbeResult[]> {
  const timeoutMs = o.timeoutMs ?? 1000;
  const tasks: Task[] = [];
  for (const port of ports)
    for (const from of pods)
      for (const to of pods)
        if (from !== to && (!o.only || o.only.has(`${from.key}>${to.key}`)))
          tasks.push({ from, to, port, index: tasks.length });
  const results: LabProbeResult[] = new Array<LabProbeResult>(tasks.length);
  const bySource = new Map<ProbePod, Task[]>();
  for (const t of tasks) {
    let l = bySource.get(t.from);
    if (!l) bySource.set(t.from, (l = []));
    l.push(t);
  }
  const budget = Math.max(1, o.concurrency ?? 48);
  const perSource = Math.max(1, Math.floor(budget / Math.max(1, bySource.size)));
  let done = 0;
  const worker = async (queue: Task[], netns: string): Promise<void> => {
    const agent = await ProbeAgent.start(netns, defaultAgentPath());
    try {
      for (let t = queue.shift(); t; t = queue.shift()) {
        results[t.index] = await probeOne(agent, t, timeoutMs, o.retries ?? 0);
        o.onProbe?.(++done, tasks.length);
      }
    } finally {
      await agent.close();
    }
  };
  await Promise.all(
    [...bySource].flatMap(([from, queue]) =>
      Array.from({ length: Math.min(perSource, queue.length) }, () => worker(queue, from.netns)),
    ),
  );
  return results;
}

async function probeOne(
  agent: ProbeAgent,
  t: Task,
  timeoutMs: number,
  retries: number,
): Promise<LabProbeResult> {
  const base = { from: t.from.key, to: t.to.key, port: t.port.port, protocol: t.port.protocol };
  const port = t.port.protocol === 'ICMP' ? 0 : resolveProbePort(t.to, t.port);
  if (port === undefined)
    return { ...base, verdict: 'deny', error: `no port named ${String(t.port.port)}` };
  const proto = t.port.protocol.toLowerCase() as ProbeProtocol;
  let last = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    const r = await agent.probe(proto, t.to.ip, port, { timeoutMs });
    if (r.ok) return { ...base, verdict: 'allow', ...(r.ms !== undefined ? { ms: r.ms } : {}) };
    // A TCP RST or SCTP ABORT came back from the pod: policy let the packet in and the
    // answer out (the datapath drops, it never answers), only nothing listens there.
    if (r.error === 'refused' && (proto === 'tcp' || proto === 'sctp'))
      return { ...base, verdict: 'allow', note: 'refused: nothing listens on this port' };
    last = r.error ?? 'failed';
  }
  return { ...base, verdict: 'deny', error: last };
}
