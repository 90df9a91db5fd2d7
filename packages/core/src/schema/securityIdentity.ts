/**
 * `palisade.dev/v1alpha1` SecurityIdentity (cluster-scoped, `sid`): one object per cluster
 * identity, written by the operator's default identity store. It records the number and the
 * label set it stands for; both never change once written (the CRD refuses any update of the
 * spec), so a number can never come to mean another label set. Marks such as
 * `palisade.dev/unused-since` live in metadata.
 *
 * The zod schema is the source of `crds/palisade.dev_securityidentities.yaml`.
 */
import { z } from 'zod';
import { FIRST_CLUSTER_IDENTITY, LAST_CLUSTER_IDENTITY } from '../identity/reserved.js';
import { boundedStringMap, ObjectMetaSchema } from './common.js';
import { MAX_ITEMS, MAX_LENGTH } from './limits.js';
import { PALISADE_API_VERSION } from './palisadePolicy.js';

/** Kind of the identity objects. */
export const SECURITY_IDENTITY_KIND = 'SecurityIdentity';
/** Resource (plural) name of the identity objects. */
export const SECURITY_IDENTITY_PLURAL = 'securityidentities';

const identityLabels = (what: string) =>
  boundedStringMap(MAX_LENGTH.labelKey, MAX_LENGTH.labelValue, MAX_ITEMS.identityLabels).describe(
    what,
  );

const NamedPortSchema = z
  .object({
    name: z.string().min(1).max(15).describe('The container port name (an IANA service name).'),
    port: z.int().min(1).max(65535).describe('The port number.'),
    protocol: z.enum(['TCP', 'UDP', 'SCTP']).describe('The port protocol.'),
  })
  .describe('A named container port.');

/** The spec of a SecurityIdentity; immutable once created. */
export const SecurityIdentitySpecSchema = z
  .object({
    id: z
      .int()
      .min(FIRST_CLUSTER_IDENTITY)
      .max(LAST_CLUSTER_IDENTITY)
      .meta({
        'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'id is immutable' }],
      })
      .describe('The identity number (cluster identities start at 256).'),
    key: z
      .string()
      .max(MAX_LENGTH.identityKey)
      .describe(
        'The canonical key of the label set: namespace, service account, labels and named ports.',
      ),
    namespace: z.string().max(MAX_LENGTH.namespace).describe('The namespace of the pods.'),
    serviceAccount: z.string().max(MAX_LENGTH.name).describe('The service account of the pods.'),
    podLabels: identityLabels('The security-relevant pod labels.'),
    namespaceLabels: identityLabels('The labels of the namespace.'),
    namedPorts: z
      .array(NamedPortSchema)
      .max(MAX_ITEMS.namedPorts)
      .optional()
      .describe('The named container ports of the pods (NetworkPolicy resolves names on them).'),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'self == oldSelf', message: 'spec is immutable: an identity never changes' },
    ],
  })
  .describe('The identity number and the label set it stands for.');

/** A SecurityIdentity object. */
export const SecurityIdentitySchema = z.looseObject({
  apiVersion: z.literal(PALISADE_API_VERSION),
  kind: z.literal(SECURITY_IDENTITY_KIND),
  metadata: ObjectMetaSchema,
  spec: SecurityIdentitySpecSchema,
});

/** A parsed SecurityIdentity spec. */
export type SecurityIdentitySpec = z.infer<typeof SecurityIdentitySpecSchema>;
/** A parsed SecurityIdentity. */
export type SecurityIdentity = z.infer<typeof SecurityIdentitySchema>;
