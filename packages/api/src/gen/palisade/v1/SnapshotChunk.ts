// Original file: protos/palisade/v1/distribution.proto

import type { StateChange as _palisade_v1_StateChange, StateChange__Output as _palisade_v1_StateChange__Output } from '../../palisade/v1/StateChange.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One piece of a full snapshot. Chunks of one snapshot carry the same epoch and revision
 * and are numbered from 0; their changes together are the node's whole state.
 */
export interface SnapshotChunk {
  'epoch'?: (string);
  'revision'?: (number | string | Long);
  'index'?: (number);
  'state'?: (_palisade_v1_StateChange | null);
}

/**
 * One piece of a full snapshot. Chunks of one snapshot carry the same epoch and revision
 * and are numbered from 0; their changes together are the node's whole state.
 */
export interface SnapshotChunk__Output {
  'epoch': (string);
  'revision': (number);
  'index': (number);
  'state': (_palisade_v1_StateChange__Output | null);
}
