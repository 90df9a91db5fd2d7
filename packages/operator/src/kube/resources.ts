/** The Kubernetes resources the operator reads and writes, and their REST paths. */

/** A resource type, as the REST API names it. */
export interface Resource {
  /** API group; '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

function r(
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced: boolean,
): Resource {
  return { group, version, plural, kind, namespaced };
}

/** Every resource the operator uses. */
export const Resources = {
  namespaces: r('', 'v1', 'namespaces', 'Namespace', false),
  pods: r('', 'v1', 'pods', 'Pod', true),
  nodes: r('', 'v1', 'nodes', 'Node', false),
  configMaps: r('', 'v1', 'configmaps', 'ConfigMap', true),
  secrets: r('', 'v1', 'secrets', 'Secret', true),
  serviceAccounts: r('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  tokenReviews: r('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview', false),
  subjectAccessReviews: r(
    'authorization.k8s.io',
    'v1',
    'subjectaccessreviews',
    'SubjectAccessReview',
    false,
  ),
  events: r('', 'v1', 'events', 'Event', true),
  networkPolicies: r('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true),
  leases: r('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  palisadeNetworkPolicies: r(
    'palisade.dev',
    'v1alpha1',
    'palisadenetworkpolicies',
    'PalisadeNetworkPolicy',
    true,
  ),
  palisadeClusterNetworkPolicies: r(
    'palisade.dev',
    'v1alpha1',
    'palisadeclusternetworkpolicies',
    'PalisadeClusterNetworkPolicy',
    false,
  ),
  securityIdentities: r(
    'palisade.dev',
    'v1alpha1',
    'securityidentities',
    'SecurityIdentity',
    false,
  ),
} as const;

/** `apiVersion` of a resource (`v1`, `palisade.dev/v1alpha1`). */
export function apiVersionOf(res: Resource): string {
  return res.group === '' ? res.version : `${res.group}/${res.version}`;
}

/** The collection path (all namespaces when `namespace` is omitted for a namespaced resource). */
export function collectionPath(res: Resource, namespace?: string): string {
  const base = res.group === '' ? `/api/${res.version}` : `/apis/${res.group}/${res.version}`;
  if (res.namespaced && namespace !== undefined)
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${res.plural}`;
  return `${base}/${res.plural}`;
}

/** The path of one object (and optionally a subresource such as `status`). */
export function objectPath(
  res: Resource,
  name: string,
  namespace?: string,
  subresource?: string,
): string {
  const p = `${collectionPath(res, res.namespaced ? (namespace ?? 'default') : undefined)}/${encodeURIComponent(name)}`;
  return subresource ? `${p}/${subresource}` : p;
}
