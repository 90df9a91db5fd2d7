/**
 * The lab's stand-in scheduler: a pod without `spec.nodeName` is bound (the `binding`
 * subresource, as kube-scheduler does) to the lab node with the fewest pods among those
 * whose labels match the pod's `nodeSelector`.
 */
import type { KubeClient, KubeObject } from '@palisade/operator';
import { LabError } from './labError.js';

/** A node the scheduler may choose. */
export interface SchedulableNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The node for a pod, or undefined when no node matches its nodeSelector. */
export function chooseNode(
  pod: KubeObject,
  nodes: readonly SchedulableNode[],
  podsOn: (node: string) => number,
): string | undefined {
  const selector =
    (pod['spec'] as { nodeSelector?: Record<string, string> } | undefined)?.nodeSelector ?? {};
  const fits = nodes.filter((n) => Object.entries(selector).every(([k, v]) => n.labels[k] === v));
  let best: SchedulableNode | undefined;
  for (const n of fits) if (!best || podsOn(n.name) < podsOn(best.name)) best = n;
  return best?.name;
}

/** Binds a pod to a node. */
export async function bindPod(client: KubeClient, pod: KubeObject, node: string): Promise<void> {
  const { name, namespace } = pod.metadata;
  if (!namespace) throw new LabError('STATE', `pod ${name} has no namespace`);
  await client.request('POST', `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
    body: {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name, namespace },
      target: { apiVersion: 'v1', kind: 'Node', name: node },
    },
  });
}
