/**
 * What the stand-in kubelet does to run one pod on a lab node: a network namespace, the
 * real CNI plugin's ADD (run in the node's namespace, as a kubelet's runtime would), and a
 * `palisade-probe-agent` in the pod serving every declared container port (TCP, UDP, SCTP).
 * Teardown is the reverse: the agent stops, CNI DEL, the namespace goes.
 */
import { spawn } from 'node:child_process';
import { CNI_MAIN, defaultAgentPath, ProbeAgent, type ServeProtocol } from '@palisade/shim/testing';
import { ipAsync, NETNS_DIR, slotPrefix } from './labNetwork.js';
import { LabError } from './labError.js';

/** A declared container port. */
export interface PodPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** A lab node as the runtime needs it. */
export interface RuntimeNode {
  readonly name: string;
  readonly netns: string;
  /** The node's underlay address (host-network pods have it). */
  readonly address: string;
  /** The CNI network configuration of the node. */
  readonly cniConfig: Record<string, unknown>;
}

/** A pod running on a lab node. */
export interface RunningPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly node: string;
  /** The pod's network namespace (the node's, for host-network pods). */
  readonly netns: string;
  readonly ip: string;
  readonly hostNetwork: boolean;
  readonly ports: readonly PodPort[];
  /** The agent serving the pod's ports (none for host-network pods). */
  readonly agent?: ProbeAgent;
}

/** The namespace name of a pod, from its uid (unique, and swept by the slot prefix). */
export function podNetns(slot: number, uid: string): string {
  return `${slotPrefix(slot)}-p-${uid.replace(/-/g, '').slice(0, 16)}`;
}

/** Runs the CNI plugin in the node's namespace; resolves with its parsed stdout. */
export function runCni(
  node: RuntimeNode,
  command: 'ADD' | 'DEL' | 'CHECK',
  containerId: string,
  netns: string,
  podKey: { namespace: string; name: string },
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', node.netns, process.execPath, CNI_MAIN], {
      env: {
        ...process.env,
        CNI_COMMAND: command,
        CNI_CONTAINERID: containerId,
        CNI_NETNS: `${NETNS_DIR}/${netns}`,
        CNI_IFNAME: 'eth0',
        CNI_ARGS: `K8S_POD_NAMESPACE=${podKey.namespace};K8S_POD_NAME=${podKey.name}`,
        CNI_PATH: '/opt/cni/bin',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let parsed: unknown;
      try {
        parsed = out.trim() === '' ? {} : JSON.parse(out);
      } catch {
        parsed = undefined;
      }
      if (code === 0 && parsed !== undefined) resolve(parsed);
      else
        reject(
          new LabError(
            'NOT_READY',
            `CNI ${command} for ${podKey.namespace}/${podKey.name} on ${node.name} failed (exit ${String(code)}): ${out.trim()} ${err.trim()}`,
          ),
        );
    });
    child.stdin.end(JSON.stringify(node.cniConfig));
  });
}

/** Creates the pod's namespace, wires it with CNI ADD and starts its port servers. */
export async function startPod(
  slot: number,
  node: RuntimeNode,
  pod: Omit<RunningPod, 'netns' | 'ip' | 'agent' | 'node'>,
): Promise<RunningPod> {
  if (pod.hostNetwork) return { ...pod, node: node.name, netns: node.netns, ip: node.address };
  const netns = podNetns(slot, pod.uid);
  await ipAsync('netns', 'add', netns);
  let agent: ProbeAgent | undefined;
  try {
    await ipAsync('-n', netns, 'link', 'set', 'lo', 'up');
    const result = (await runCni(node, 'ADD', pod.uid, netns, pod)) as {
      ips?: { address: string }[];
    };
    const ip = (result.ips ?? []).map((i) => i.address.split('/')[0] ?? '').find((a) => a) ?? '';
    if (!ip)
      throw new LabError('NOT_READY', `CNI ADD gave ${pod.namespace}/${pod.name} no address`);
    agent = await ProbeAgent.start(netns, defaultAgentPath());
    for (const p of pod.ports)
      await agent.serve(p.protocol.toLowerCase() as ServeProtocol, p.containerPort);
    return { ...pod, node: node.name, netns, ip, agent };
  } catch (err) {
    await agent?.close().catch(() => undefined);
    await runCni(node, 'DEL', pod.uid, netns, pod).catch(() => undefined);
    await ipAsync('netns', 'del', netns).catch(() => undefined);
    throw err;
  }
}

/** Stops the pod's servers, runs CNI DEL and removes its namespace. Idempotent. */
export async function stopPod(node: RuntimeNode | undefined, pod: RunningPod): Promise<void> {
  if (pod.hostNetwork) return;
  await pod.agent?.close().catch(() => undefined);
  if (node) await runCni(node, 'DEL', pod.uid, pod.netns, pod).catch(() => undefined);
  await ipAsync('netns', 'del', pod.netns).catch(() => undefined);
}
