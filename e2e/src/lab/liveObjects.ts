/**
 * The objects `policy simulate` reads, taken from the lab's apiserver instead of files:
 * Namespaces, Pods, NetworkPolicies and Palisade policies, with `apiVersion` and `kind` set
 * (list responses omit them on items). With them the offline simulator and the kernel can
 * be compared on exactly the same input.
 */
import type { LoadedObject } from '@palisade/cli';
import { apiVersionOf, Resources, type KubeClient, type KubeObject } from '@palisade/operator';

const KINDS = [
  Resources.namespaces,
  Resources.pods,
  Resources.networkPolicies,
  Resources.palisadeNetworkPolicies,
  Resources.palisadeClusterNetworkPolicies,
];

/** Every Namespace, Pod and policy in the cluster, as the simulator loads them. */
export async function liveObjects(client: KubeClient): Promise<LoadedObject[]> {
  const out: LoadedObject[] = [];
  for (const res of KINDS) {
    const list = await client.listAll<KubeObject>(res);
    for (const item of list.items)
      out.push({
        object: { ...item, apiVersion: apiVersionOf(res), kind: res.kind },
        source: `apiserver:${res.plural}/${item.metadata.namespace ? `${item.metadata.namespace}/` : ''}${item.metadata.name}`,
      });
  }
  return out;
}
