// Original file: protos/palisade/v1/integrations.proto

import type { Identity as _palisade_v1_Identity, Identity__Output as _palisade_v1_Identity__Output } from '../../palisade/v1/Identity.js';
import type { Long } from '@grpc/proto-loader';

// Original file: protos/palisade/v1/integrations.proto

export const _palisade_v1_IdentityEvent_Type = {
  TYPE_UNSPECIFIED: 'TYPE_UNSPECIFIED',
  /**
   * The identities in use when the watch started (one event each, then INITIAL_DONE).
   */
  TYPE_INITIAL: 'TYPE_INITIAL',
  TYPE_INITIAL_DONE: 'TYPE_INITIAL_DONE',
  TYPE_ADDED: 'TYPE_ADDED',
  TYPE_REMOVED: 'TYPE_REMOVED',
} as const;

export type _palisade_v1_IdentityEvent_Type =
  | 'TYPE_UNSPECIFIED'
  | 0
  /**
   * The identities in use when the watch started (one event each, then INITIAL_DONE).
   */
  | 'TYPE_INITIAL'
  | 1
  | 'TYPE_INITIAL_DONE'
  | 2
  | 'TYPE_ADDED'
  | 3
  | 'TYPE_REMOVED'
  | 4

export type _palisade_v1_IdentityEvent_Type__Output = typeof _palisade_v1_IdentityEvent_Type[keyof typeof _palisade_v1_IdentityEvent_Type]

export interface IdentityEvent {
  'type'?: (_palisade_v1_IdentityEvent_Type);
  'identity'?: (_palisade_v1_Identity | null);
  'revision'?: (number | string | Long);
}

export interface IdentityEvent__Output {
  'type': (_palisade_v1_IdentityEvent_Type__Output);
  'identity': (_palisade_v1_Identity__Output | null);
  'revision': (number);
}
