// Original file: protos/palisade/v1/integrations.proto

import type { Identity as _palisade_v1_Identity, Identity__Output as _palisade_v1_Identity__Output } from '../../palisade/v1/Identity.js';
import type { PolicyEntry as _palisade_v1_PolicyEntry, PolicyEntry__Output as _palisade_v1_PolicyEntry__Output } from '../../palisade/v1/PolicyEntry.js';

export interface EndpointPolicy {
  'identity'?: (_palisade_v1_Identity | null);
  /**
   * The pods with this identity (`namespace/name`).
   */
  'pods'?: (string)[];
  'ingressIsolated'?: (boolean);
  'egressIsolated'?: (boolean);
  'entries'?: (_palisade_v1_PolicyEntry)[];
}

export interface EndpointPolicy__Output {
  'identity': (_palisade_v1_Identity__Output | null);
  /**
   * The pods with this identity (`namespace/name`).
   */
  'pods': (string)[];
  'ingressIsolated': (boolean);
  'egressIsolated': (boolean);
  'entries': (_palisade_v1_PolicyEntry__Output)[];
}
