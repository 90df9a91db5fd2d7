// Original file: protos/palisade/v1/distribution.proto

import type { StateChange as _palisade_v1_StateChange, StateChange__Output as _palisade_v1_StateChange__Output } from '../../palisade/v1/StateChange.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A change to the node's state.
 */
export interface Delta {
  'epoch'?: (string);
  'revision'?: (number | string | Long);
  /**
   * The revision the node's state must be at for this delta to apply.
   */
  'previousRevision'?: (number | string | Long);
  'change'?: (_palisade_v1_StateChange | null);
}

/**
 * A change to the node's state.
 */
export interface Delta__Output {
  'epoch': (string);
  'revision': (number);
  /**
   * The revision the node's state must be at for this delta to apply.
   */
  'previousRevision': (number);
  'change': (_palisade_v1_StateChange__Output | null);
}
