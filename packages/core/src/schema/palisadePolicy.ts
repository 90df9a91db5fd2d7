/**
 * `palisade.dev/v1alpha1` PalisadeNetworkPolicy (namespaced, `pnp`) and
 * PalisadeClusterNetworkPolicy (cluster-scoped, `pcnp`).
 *
 * These zod schemas are the single source of the CRDs in `crds/`: the generator turns
 * them into openAPIV3Schema, and the `x-kubernetes-validations` (CEL) rules attached with
 * `.meta()` say what a schema alone cannot (one kind of peer, CIDR syntax, port range order).
 * The engine applies the same checks again when it normalises a policy, because objects
 * also come from files that never passed an apiserver.
 */
import { z } from 'zod';
import { BoundedLabelSelectorSchema, ObjectMetaSchema } from './common.js';
import { MAX_ITEMS, MAX_LENGTH } from './limits.js';

/** API group and version of the Palisade policy kinds. */
export const PALISADE_GROUP = 'palisade.dev';
/** The served and stored version. */
export const PALISADE_VERSION = 'v1alpha1';
/** apiVersion string of the Palisade kinds. */
export const PALISADE_API_VERSION = `${PALISADE_GROUP}/${PALISADE_VERSION}`;

/** Named peers that are not pods. */
export const ENTITIES = [
  'world',
  'cluster',
  'host',
  'remote-node',
  'kube-apiserver',
  'all',
] as const;
/** A named peer. */
export type Entity = (typeof ENTITIES)[number];

const cidrString = z
  .string()
  .max(MAX_LENGTH.cidr)
  .meta({
    'x-kubernetes-validations': [
      { rule: 'isCIDR(self)', message: 'must be a CIDR such as 10.0.0.0/8 or fd00::/64' },
    ],
  });

const CIDRSetSchema = z
  .object({
    cidr: cidrString.describe('The prefix.'),
    except: z
      .array(cidrString)
      .max(MAX_ITEMS.except)
      .optional()
      .describe('Prefixes inside cidr that are not part of the set.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.except) || !isCIDR(self.cidr) || self.except.all(e, !isCIDR(e) || cidr(self.cidr).containsCIDR(e))',
        message: 'every except prefix must lie inside cidr',
      },
    ],
  })
  .describe('A prefix minus some of its sub-prefixes.');

const PeerSchema = z
  .object({
    endpointSelector: BoundedLabelSelectorSchema.optional().describe(
      'Pods with these labels: in the policy namespace for a PalisadeNetworkPolicy, in any namespace for a PalisadeClusterNetworkPolicy, unless namespaceSelector narrows it.',
    ),
    namespaceSelector: BoundedLabelSelectorSchema.optional().describe(
      'Pods in namespaces with these labels. Together with endpointSelector, both must hold.',
    ),
    cidr: cidrString.optional().describe('Addresses in this prefix (pods included).'),
    cidrSet: CIDRSetSchema.optional(),
    entity: z.enum(ENTITIES).optional().describe('A named set of peers.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '(has(self.endpointSelector) || has(self.namespaceSelector) ? 1 : 0) + (has(self.cidr) ? 1 : 0) + (has(self.cidrSet) ? 1 : 0) + (has(self.entity) ? 1 : 0) == 1',
        message:
          'a peer names exactly one kind of selector: endpointSelector/namespaceSelector, cidr, cidrSet or entity',
      },
    ],
  })
  .describe('One peer of a rule.');

const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6', 'ANY'] as const;

const PortRuleSchema = z
  .object({
    port: z
      .union([z.int(), z.string().max(MAX_LENGTH.port)])
      .optional()
      .describe('A port number or a named container port. Absent: every port of the protocol.'),
    endPort: z
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Last port of a range starting at port.'),
    protocol: z.enum(PROTOCOLS).default('TCP').describe('Protocol; ANY matches all of them.'),
    icmpType: z
      .int()
      .min(0)
      .max(255)
      .optional()
      .describe('ICMP or ICMPv6 type. Absent: every type.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.port) || type(self.port) == string || (self.port >= 1 && self.port <= 65535)',
        message: 'port must be between 1 and 65535',
      },
      {
        rule: "!has(self.port) || type(self.port) == int || (size(self.port) <= 15 && self.port.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))",
        message: 'a named port must be an IANA service name (lowercase, at most 15 characters)',
      },
      {
        rule: '!has(self.endPort) || (has(self.port) && type(self.port) == int && self.endPort >= self.port)',
        message: 'endPort needs a numeric port and must not be below it',
      },
      {
        rule: "!has(self.icmpType) || self.protocol == 'ICMP' || self.protocol == 'ICMPv6'",
        message: 'icmpType is only for protocol ICMP or ICMPv6',
      },
      {
        rule: "!(self.protocol == 'ICMP' || self.protocol == 'ICMPv6') || !has(self.port)",
        message: 'ICMP rules match icmpType, not port',
      },
    ],
  })
  .describe('A protocol and port (or port range, or ICMP type).');

const HTTPRuleSchema = z
  .object({
    method: z
      .string()
      .max(256)
      .optional()
      .describe('Regular expression for the method, e.g. GET|HEAD.'),
    path: z.string().max(1024).optional().describe('Regular expression the whole path must match.'),
    host: z.string().max(256).optional().describe('Regular expression for the Host header.'),
    headers: z
      .array(
        z.object({
          name: z.string().min(1).max(256).describe('Header name (case-insensitive).'),
          value: z
            .string()
            .max(1024)
            .optional()
            .describe('Exact value; absent: the header must be present.'),
        }),
      )
      .max(MAX_ITEMS.httpHeaders)
      .optional()
      .describe('Headers that must all be present.'),
  })
  .describe('An HTTP request pattern. A request is allowed when it matches every field given.');

const portsField = z
  .array(PortRuleSchema)
  .max(MAX_ITEMS.ports)
  .optional()
  .describe('Ports; absent or empty: every protocol and port.');
const fromField = z
  .array(PeerSchema)
  .max(MAX_ITEMS.peers)
  .optional()
  .describe('Sources; absent or empty: any source.');
const toField = z
  .array(PeerSchema)
  .max(MAX_ITEMS.peers)
  .optional()
  .describe('Destinations; absent or empty: any destination.');
const httpField = z
  .array(HTTPRuleSchema)
  .max(MAX_ITEMS.httpRules)
  .optional()
  .describe('L7: only these HTTP requests are allowed.');

const httpRequiresTcpPorts = {
  rule: "!has(self.http) || (has(self.ports) && size(self.ports) > 0 && self.ports.all(p, p.protocol == 'TCP' && has(p.port)))",
  message: 'http rules need ports, all with protocol TCP and a port',
};

const IngressRuleSchema = z
  .object({ from: fromField, ports: portsField, http: httpField })
  .meta({ 'x-kubernetes-validations': [httpRequiresTcpPorts] })
  .describe('Traffic allowed into the selected pods.');

const EgressRuleSchema = z
  .object({ to: toField, ports: portsField, http: httpField })
  .meta({ 'x-kubernetes-validations': [httpRequiresTcpPorts] })
  .describe('Traffic allowed out of the selected pods.');

const IngressDenyRuleSchema = z
  .object({ from: fromField, ports: portsField })
  .describe('Traffic denied into the selected pods, whatever any policy allows.');

const EgressDenyRuleSchema = z
  .object({ to: toField, ports: portsField })
  .describe('Traffic denied out of the selected pods, whatever any policy allows.');

const specFields = {
  description: z.string().max(1024).optional().describe('Free text for humans.'),
  endpointSelector: BoundedLabelSelectorSchema.describe('The pods this policy applies to.'),
  ingress: z
    .array(IngressRuleSchema)
    .max(MAX_ITEMS.rules)
    .optional()
    .describe(
      'Allow rules for incoming traffic. Present (even empty): the selected pods only accept what some policy allows.',
    ),
  egress: z
    .array(EgressRuleSchema)
    .max(MAX_ITEMS.rules)
    .optional()
    .describe(
      'Allow rules for outgoing traffic. Present (even empty): the selected pods only send what some policy allows.',
    ),
  ingressDeny: z
    .array(IngressDenyRuleSchema)
    .max(MAX_ITEMS.rules)
    .optional()
    .describe('Deny rules for incoming traffic; deny beats allow.'),
  egressDeny: z
    .array(EgressDenyRuleSchema)
    .max(MAX_ITEMS.rules)
    .optional()
    .describe('Deny rules for outgoing traffic; deny beats allow.'),
};

const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  observedGeneration: z.int().optional(),
  lastTransitionTime: z.string().optional(),
});

/** Status written by the operator. */
export const PolicyStatusSchema = z
  .object({
    observedGeneration: z.int().optional().describe('The generation the conditions describe.'),
    conditions: z.array(ConditionSchema).optional().describe('Valid and Enforced.'),
    nodesRealized: z
      .int()
      .optional()
      .describe('Nodes that have the current version in their kernel.'),
    nodesDesired: z.int().optional().describe('Nodes that need this policy.'),
  })
  .describe('What the operator observed.');

/** The spec of a PalisadeNetworkPolicy. */
export const PalisadeNetworkPolicySpecSchema = z.object(specFields).describe('The desired policy.');

/** The spec of a PalisadeClusterNetworkPolicy: the namespaced spec plus a namespace selector. */
export const PalisadeClusterNetworkPolicySpecSchema = z
  .object({
    ...specFields,
    namespaceSelector: BoundedLabelSelectorSchema.optional().describe(
      'Only pods in namespaces with these labels. Absent: every namespace.',
    ),
  })
  .describe('The desired policy.');

/** A PalisadeNetworkPolicy. */
export const PalisadeNetworkPolicySchema = z.looseObject({
  apiVersion: z.literal(PALISADE_API_VERSION),
  kind: z.literal('PalisadeNetworkPolicy'),
  metadata: ObjectMetaSchema,
  spec: PalisadeNetworkPolicySpecSchema,
  status: PolicyStatusSchema.optional(),
});

/** A PalisadeClusterNetworkPolicy. */
export const PalisadeClusterNetworkPolicySchema = z.looseObject({
  apiVersion: z.literal(PALISADE_API_VERSION),
  kind: z.literal('PalisadeClusterNetworkPolicy'),
  metadata: ObjectMetaSchema,
  spec: PalisadeClusterNetworkPolicySpecSchema,
  status: PolicyStatusSchema.optional(),
});

/** A parsed PalisadeNetworkPolicy. */
export type PalisadeNetworkPolicy = z.infer<typeof PalisadeNetworkPolicySchema>;
/** A parsed PalisadeClusterNetworkPolicy. */
export type PalisadeClusterNetworkPolicy = z.infer<typeof PalisadeClusterNetworkPolicySchema>;
/** A peer of a Palisade rule. */
export type PalisadePeer = z.infer<typeof PeerSchema>;
/** A port rule of a Palisade rule. */
export type PalisadePortRule = z.infer<typeof PortRuleSchema>;
/** An L7 HTTP rule. */
export type HTTPRule = z.infer<typeof HTTPRuleSchema>;
