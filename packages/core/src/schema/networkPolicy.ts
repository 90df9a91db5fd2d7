/**
 * `networking.k8s.io/v1` NetworkPolicy, as the apiserver serves it. Structural checks only;
 * semantic checks (selectors, CIDRs, ports) happen when it is normalised, with field paths.
 * Fields may be `null` in YAML written by hand, so optional fields accept null.
 */
import { z } from 'zod';
import { IntOrStringSchema, LabelSelectorSchema, ObjectMetaSchema } from './common.js';

const NetworkPolicyPortSchema = z.object({
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).nullish(),
  port: IntOrStringSchema.nullish(),
  endPort: z.int().nullish(),
});

const NetworkPolicyPeerSchema = z.object({
  podSelector: LabelSelectorSchema.nullish(),
  namespaceSelector: LabelSelectorSchema.nullish(),
  ipBlock: z.object({ cidr: z.string(), except: z.array(z.string()).nullish() }).nullish(),
});

/** The NetworkPolicy object. */
export const NetworkPolicySchema = z.looseObject({
  apiVersion: z.literal('networking.k8s.io/v1'),
  kind: z.literal('NetworkPolicy'),
  metadata: ObjectMetaSchema,
  spec: z.object({
    podSelector: LabelSelectorSchema.nullish(),
    ingress: z
      .array(
        z.object({
          from: z.array(NetworkPolicyPeerSchema).nullish(),
          ports: z.array(NetworkPolicyPortSchema).nullish(),
        }),
      )
      .nullish(),
    egress: z
      .array(
        z.object({
          to: z.array(NetworkPolicyPeerSchema).nullish(),
          ports: z.array(NetworkPolicyPortSchema).nullish(),
        }),
      )
      .nullish(),
    policyTypes: z.array(z.enum(['Ingress', 'Egress'])).nullish(),
  }),
});

/** A parsed NetworkPolicy. */
export type NetworkPolicy = z.infer<typeof NetworkPolicySchema>;
/** One port entry of a NetworkPolicy rule. */
export type NetworkPolicyPort = z.infer<typeof NetworkPolicyPortSchema>;
/** One peer of a NetworkPolicy rule. */
export type NetworkPolicyPeer = z.infer<typeof NetworkPolicyPeerSchema>;
