/**
 * Schemas shared by every object kind: object metadata, label selectors, int-or-string.
 * The CRD generator reads `.meta()` on these schemas (descriptions, CEL rules).
 */
import { z } from 'zod';

/** `metav1.LabelSelector`. */
export const LabelSelectorSchema = z
  .object({
    matchLabels: z
      .record(z.string(), z.string())
      .optional()
      .describe('Labels that must all be present with these values.'),
    matchExpressions: z
      .array(
        z.object({
          key: z.string().describe('The label key.'),
          operator: z
            .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
            .describe('How the key relates to the values.'),
          values: z
            .array(z.string())
            .optional()
            .describe('Values for In and NotIn; must be empty for Exists and DoesNotExist.'),
        }),
      )
      .optional()
      .describe('Requirements that must all hold.'),
  })
  .describe('A Kubernetes label selector. An empty selector selects everything.');

/** The parts of `metav1.ObjectMeta` the engine reads; everything else is kept as is. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
});

/** A port number or an IANA service name (`intstr.IntOrString`). */
export const IntOrStringSchema = z.union([z.int(), z.string()]);

/** The type of an `ObjectMeta` after parsing. */
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;
