// Original file: protos/palisade/v1/distribution.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The snapshot is complete: replace the state with the chunks' union, then ack `revision`.
 */
export interface Synced {
  'epoch'?: (string);
  'revision'?: (number | string | Long);
  'chunks'?: (number);
}

/**
 * The snapshot is complete: replace the state with the chunks' union, then ack `revision`.
 */
export interface Synced__Output {
  'epoch': (string);
  'revision': (number);
  'chunks': (number);
}
