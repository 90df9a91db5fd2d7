/**
 * Kubernetes objects (already decoded from YAML or JSON) → engine inputs.
 * Every failure is a PolicyError that names the object and the field.
 */
import type { z } from 'zod';
import { PolicyError, type ObjectRef } from '../errors.js';
import type { NamespaceInput, PodInput } from '../compiler/inputs.js';
import type { NamedPort } from '../identity/securityLabels.js';
import { parseAddress } from '../model/cidr.js';
import { dns1123LabelError, labelKeyError, labelValueError } from '../model/labels.js';
import { fromNetworkPolicy } from '../policy/fromNetworkPolicy.js';
import { fromPalisadePolicy } from '../policy/fromPalisadePolicy.js';
import type { Policy } from '../policy/types.js';
import { portNameError } from '../policy/validate.js';
import { NetworkPolicySchema } from '../schema/networkPolicy.js';
import { NamespaceSchema, PodSchema } from '../schema/objects.js';
import {
  PalisadeClusterNetworkPolicySchema,
  PalisadeNetworkPolicySchema,
  PALISADE_API_VERSION,
} from '../schema/palisadePolicy.js';

/** An object the engine understands. */
export type ParsedObject =
  | { readonly kind: 'Namespace'; readonly ref: ObjectRef; readonly namespace: NamespaceInput }
  | {
      readonly kind: 'Pod';
      readonly ref: ObjectRef;
      readonly pod: PodInput;
      readonly ports: readonly NamedPort[];
    }
  | { readonly kind: 'Policy'; readonly ref: ObjectRef; readonly policy: Policy };

/** The kinds `parseObject` accepts, as `apiVersion/kind`. */
export const SUPPORTED_KINDS: readonly string[] = [
  'v1/Namespace',
  'v1/Pod',
  'networking.k8s.io/v1/NetworkPolicy',
  `${PALISADE_API_VERSION}/PalisadeNetworkPolicy`,
  `${PALISADE_API_VERSION}/PalisadeClusterNetworkPolicy`,
];

function refOf(obj: unknown): ObjectRef {
  const o = (obj ?? {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const ns = o.metadata?.namespace;
  return {
    kind: typeof o.kind === 'string' ? o.kind : '<no kind>',
    name: typeof o.metadata?.name === 'string' ? o.metadata.name : '<no name>',
    ...(typeof ns === 'string' ? { namespace: ns } : {}),
  };
}

function schemaParse<T extends z.ZodType>(schema: T, obj: unknown, ref: ObjectRef): z.infer<T> {
  const r = schema.safeParse(obj);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field =
    issue && issue.path.length > 0
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : '<object>';
  throw new PolicyError('InvalidObject', field, issue?.message ?? 'invalid object', ref);
}

function checkLabels(
  labels: Record<string, string> | null | undefined,
  ref: ObjectRef,
): Record<string, string> {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const e = labelKeyError(k) ?? labelValueError(v);
    if (e) throw new PolicyError('InvalidLabel', `metadata.labels`, e, ref);
  }
  return { ...(labels ?? {}) };
}

/**
 * Parses one object. Objects of kinds that policy does not depend on are refused with
 * code `UnsupportedKind`, so callers can skip them knowingly.
 * @throws PolicyError
 */
export function parseObject(obj: unknown): ParsedObject {
  const ref = refOf(obj);
  const o = (obj ?? {}) as { apiVersion?: unknown; kind?: unknown };
  const kind = `${String(o.apiVersion)}/${String(o.kind)}`;
  switch (kind) {
    case 'v1/Namespace': {
      const ns = schemaParse(NamespaceSchema, obj, ref);
      const e = dns1123LabelError(ns.metadata.name);
      if (e) throw new PolicyError('InvalidObject', 'metadata.name', e, ref);
      return {
        kind: 'Namespace',
        ref,
        namespace: { name: ns.metadata.name, labels: checkLabels(ns.metadata.labels, ref) },
      };
    }
    case 'v1/Pod': {
      const pod = schemaParse(PodSchema, obj, ref);
      const namespace = pod.metadata.namespace ?? 'default';
      // Pods in a terminal phase have released their addresses (kubelet tears the sandbox down).
      const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
      const ips = terminal
        ? []
        : [
            ...new Set([
              ...(pod.status?.podIP ? [pod.status.podIP] : []),
              ...(pod.status?.podIPs ?? []).map((p) => p.ip),
            ]),
          ];
      ips.forEach((ip, i) => {
        if (!parseAddress(ip))
          throw new PolicyError(
            'InvalidObject',
            i === 0 ? 'status.podIP' : 'status.podIPs',
            `"${ip}" is not an IP address`,
            ref,
          );
      });
      const ports: NamedPort[] = [];
      const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
      containers.forEach((c, ci) =>
        (c.ports ?? []).forEach((p, pi) => {
          if (!p.name) return;
          const e = portNameError(p.name);
          if (e)
            throw new PolicyError(
              'InvalidPort',
              `spec.containers[${ci}].ports[${pi}].name`,
              e,
              ref,
            );
          ports.push({ name: p.name, port: p.containerPort, protocol: p.protocol ?? 'TCP' });
        }),
      );
      const allPorts = containers.flatMap((c) =>
        (c.ports ?? []).map((p) => ({
          name: p.name ?? '',
          port: p.containerPort,
          protocol: p.protocol ?? 'TCP',
        })),
      );
      return {
        kind: 'Pod',
        ref: { ...ref, namespace },
        ports: allPorts,
        pod: {
          namespace,
          name: pod.metadata.name,
          labels: checkLabels(pod.metadata.labels, ref),
          serviceAccount: pod.spec?.serviceAccountName ?? 'default',
          ips,
          namedPorts: ports,
          hostNetwork: pod.spec?.hostNetwork ?? false,
          ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
        },
      };
    }
    case 'networking.k8s.io/v1/NetworkPolicy':
      return {
        kind: 'Policy',
        ref,
        policy: fromNetworkPolicy(schemaParse(NetworkPolicySchema, obj, ref)),
      };
    case `${PALISADE_API_VERSION}/PalisadeNetworkPolicy`:
      return {
        kind: 'Policy',
        ref,
        policy: fromPalisadePolicy(schemaParse(PalisadeNetworkPolicySchema, obj, ref)),
      };
    case `${PALISADE_API_VERSION}/PalisadeClusterNetworkPolicy`:
      return {
        kind: 'Policy',
        ref,
        policy: fromPalisadePolicy(schemaParse(PalisadeClusterNetworkPolicySchema, obj, ref)),
      };
    default:
      throw new PolicyError(
        'UnsupportedKind',
        'kind',
        `${kind} is not one of ${SUPPORTED_KINDS.join(', ')}`,
        ref,
      );
  }
}
