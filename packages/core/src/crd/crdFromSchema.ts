/**
 * Generates the CustomResourceDefinitions in `crds/` from the zod schemas, so the schema
 * the apiserver enforces and the one the engine parses with cannot drift apart.
 *
 * zod's OpenAPI 3.0 output is turned into a Kubernetes *structural* schema:
 * int-or-string unions become `x-kubernetes-int-or-string` (keeping the string branch's
 * `maxLength`, which the apiserver needs to bound CEL costs), `additionalProperties: false`
 * is dropped (the apiserver prunes unknown fields instead), and the CEL rules attached
 * with `.meta({'x-kubernetes-validations': …})` are carried through.
 */
import { z } from 'zod';
import {
  PalisadeClusterNetworkPolicySpecSchema,
  PalisadeNetworkPolicySpecSchema,
  PALISADE_GROUP,
  PALISADE_VERSION,
  PolicyStatusSchema,
} from '../schema/palisadePolicy.js';
import {
  SECURITY_IDENTITY_KIND,
  SECURITY_IDENTITY_PLURAL,
  SecurityIdentitySpecSchema,
} from '../schema/securityIdentity.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rewrites a JSON Schema node (recursively) into a structural schema node. */
export function toStructural(node: Json): Json {
  if (Array.isArray(node)) return node.map(toStructural);
  if (!isObject(node)) return node;
  const anyOf = node['anyOf'];
  if (Array.isArray(anyOf)) {
    const types = anyOf.map((a) => (isObject(a) ? a['type'] : undefined)).sort();
    if (types.length === 2 && types[0] === 'integer' && types[1] === 'string') {
      const out: JsonObject = { 'x-kubernetes-int-or-string': true };
      for (const [k, v] of Object.entries(node)) if (k !== 'anyOf') out[k] = toStructural(v);
      const str = anyOf.find((a) => isObject(a) && a['type'] === 'string');
      const maxLength = isObject(str) ? str['maxLength'] : undefined;
      if (typeof maxLength === 'number') out['maxLength'] = maxLength;
      return out;
    }
  }
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$schema' || k === 'id') continue;
    if (k === 'additionalProperties' && v === false) continue;
    out[k] =
      k === 'properties' && isObject(v)
        ? Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, toStructural(pv)]))
        : toStructural(v);
  }
  return out;
}

function schemaOf(s: z.ZodType): Json {
  return toStructural(z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input' }) as Json);
}

/** Description of one CRD to generate. */
interface CrdSpec {
  readonly kind: string;
  readonly plural: string;
  readonly shortName: string;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly spec: z.ZodType;
  /** The status schema; a kind with one gets the status subresource. */
  readonly status?: z.ZodType;
  readonly printerColumns: Json;
  readonly description: string;
}

const AGE_COLUMN: Json = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

const POLICY_COLUMNS: Json = [
  { name: 'Valid', type: 'string', jsonPath: '.status.conditions[?(@.type=="Valid")].status' },
  {
    name: 'Enforced',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Enforced")].status',
  },
  {
    name: 'Realized',
    type: 'integer',
    jsonPath: '.status.nodesRealized',
    description: 'Nodes enforcing the current version',
  },
  {
    name: 'Desired',
    type: 'integer',
    jsonPath: '.status.nodesDesired',
    description: 'Nodes that need this policy',
  },
  {
    name: 'Reason',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Valid")].reason',
    description: 'Why the policy is (not) valid',
  },
  AGE_COLUMN,
];

const IDENTITY_COLUMNS: Json = [
  { name: 'ID', type: 'integer', jsonPath: '.spec.id' },
  { name: 'Namespace', type: 'string', jsonPath: '.spec.namespace' },
  { name: 'ServiceAccount', type: 'string', jsonPath: '.spec.serviceAccount' },
  {
    name: 'Unused-Since',
    type: 'string',
    jsonPath: '.metadata.annotations.palisade\\.dev/unused-since',
    description: 'When the operator found the identity unused (it is freed after a grace period)',
  },
  AGE_COLUMN,
];

function crd(c: CrdSpec): JsonObject {
  const properties: JsonObject = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: schemaOf(c.spec),
  };
  if (c.status) properties['status'] = schemaOf(c.status);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${c.plural}.${PALISADE_GROUP}` },
    spec: {
      group: PALISADE_GROUP,
      names: {
        kind: c.kind,
        listKind: `${c.kind}List`,
        plural: c.plural,
        singular: c.kind.toLowerCase(),
        shortNames: [c.shortName],
        categories: ['palisade'],
      },
      scope: c.scope,
      versions: [
        {
          name: PALISADE_VERSION,
          served: true,
          storage: true,
          ...(c.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: c.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: c.description,
              required: ['spec'],
              properties,
            },
          },
        },
      ],
    },
  };
}

/** Every CRD the project owns, by file name (`crds/<name>.yaml`). */
export function generateCrds(): Record<string, JsonObject> {
  return {
    'palisade.dev_palisadenetworkpolicies': crd({
      kind: 'PalisadeNetworkPolicy',
      plural: 'palisadenetworkpolicies',
      shortName: 'pnp',
      scope: 'Namespaced',
      spec: PalisadeNetworkPolicySpecSchema,
      status: PolicyStatusSchema,
      printerColumns: POLICY_COLUMNS,
      description:
        'Identity-based L3/L4/L7 policy for the pods of one namespace, with allow and deny rules.',
    }),
    'palisade.dev_palisadeclusternetworkpolicies': crd({
      kind: 'PalisadeClusterNetworkPolicy',
      plural: 'palisadeclusternetworkpolicies',
      shortName: 'pcnp',
      scope: 'Cluster',
      spec: PalisadeClusterNetworkPolicySpecSchema,
      status: PolicyStatusSchema,
      printerColumns: POLICY_COLUMNS,
      description:
        'Identity-based L3/L4/L7 policy for pods in any namespace, with allow and deny rules.',
    }),
    [`palisade.dev_${SECURITY_IDENTITY_PLURAL}`]: crd({
      kind: SECURITY_IDENTITY_KIND,
      plural: SECURITY_IDENTITY_PLURAL,
      shortName: 'sid',
      scope: 'Cluster',
      spec: SecurityIdentitySpecSchema,
      printerColumns: IDENTITY_COLUMNS,
      description:
        'A security identity: a number for a set of security-relevant labels. Written by the operator; the spec never changes.',
    }),
  };
}
