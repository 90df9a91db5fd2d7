/**
 * Schemas shared by every object kind: object metadata, label selectors, int-or-string.
 * The CRD generator reads `.meta()` on these schemas (descriptions, CEL rules).
 */
import { z } from 'zod';
import { MAX_ITEMS, MAX_LENGTH } from './limits.js';

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

/**
 * A string-to-string map with at most `maxEntries` entries, keys of at most `keyMax` and
 * values of at most `valueMax` characters. The CRD carries `maxProperties` and the value
 * length; key length is checked by zod only (structural schemas cannot bound map keys).
 */
export function boundedStringMap(keyMax: number, valueMax: number, maxEntries: number) {
  return z
    .record(z.string().max(keyMax), z.string().max(valueMax))
    .refine((m) => Object.keys(m).length <= maxEntries, {
      message: `at most ${maxEntries} entries`,
    })
    .meta({ maxProperties: maxEntries });
}

/** A map of label keys to label values, bounded by {@link MAX_ITEMS} `matchLabels`. */
export const BoundedLabelMapSchema = boundedStringMap(
  MAX_LENGTH.labelKey,
  MAX_LENGTH.labelValue,
  MAX_ITEMS.matchLabels,
);

/**
 * `metav1.LabelSelector` with the size limits of {@link MAX_ITEMS} and {@link MAX_LENGTH},
 * for the Palisade kinds (a CRD's CEL budget needs them; upstream NetworkPolicy does not).
 */
export const BoundedLabelSelectorSchema = z
  .object({
    matchLabels: BoundedLabelMapSchema.optional().describe(
      'Labels that must all be present with these values.',
    ),
    matchExpressions: z
      .array(
        z.object({
          key: z.string().max(MAX_LENGTH.labelKey).describe('The label key.'),
          operator: z
            .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
            .describe('How the key relates to the values.'),
          values: z
            .array(z.string().max(MAX_LENGTH.labelValue))
            .max(MAX_ITEMS.expressionValues)
            .optional()
            .describe('Values for In and NotIn; must be empty for Exists and DoesNotExist.'),
        }),
      )
      .max(MAX_ITEMS.matchExpressions)
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
