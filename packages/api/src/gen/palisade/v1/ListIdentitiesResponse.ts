// Original file: protos/palisade/v1/integrations.proto

import type { Identity as _palisade_v1_Identity, Identity__Output as _palisade_v1_Identity__Output } from '../../palisade/v1/Identity.js';
import type { Long } from '@grpc/proto-loader';

export interface ListIdentitiesResponse {
  'identities'?: (_palisade_v1_Identity)[];
  /**
   * The operator's distribution revision the answer reflects.
   */
  'revision'?: (number | string | Long);
}

export interface ListIdentitiesResponse__Output {
  'identities': (_palisade_v1_Identity__Output)[];
  /**
   * The operator's distribution revision the answer reflects.
   */
  'revision': (number);
}
