/**
 * The parts of core/v1 Namespace and Pod that policy depends on: labels, service account,
 * IPs, named container ports, host networking, node.
 */
import { z } from 'zod';
import { ObjectMetaSchema } from './common.js';

/** A Namespace. */
export const NamespaceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: ObjectMetaSchema,
});

const ContainerPortSchema = z.looseObject({
  name: z.string().nullish(),
  containerPort: z.int().min(1).max(65535),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).nullish(),
});

const ContainerSchema = z.looseObject({
  name: z.string().nullish(),
  ports: z.array(ContainerPortSchema).nullish(),
});

/** A Pod. */
export const PodSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: ObjectMetaSchema,
  spec: z
    .looseObject({
      serviceAccountName: z.string().nullish(),
      nodeName: z.string().nullish(),
      hostNetwork: z.boolean().nullish(),
      containers: z.array(ContainerSchema).nullish(),
      initContainers: z.array(ContainerSchema).nullish(),
    })
    .nullish(),
  status: z
    .looseObject({
      podIP: z.string().nullish(),
      podIPs: z.array(z.object({ ip: z.string() })).nullish(),
      phase: z.string().nullish(),
    })
    .nullish(),
});

/** A parsed Namespace. */
export type Namespace = z.infer<typeof NamespaceSchema>;
/** A parsed Pod. */
export type Pod = z.infer<typeof PodSchema>;
