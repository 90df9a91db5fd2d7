// Original file: protos/palisade/v1/distribution.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The shim has written every change up to `revision` to its kernel maps.
 */
export interface Ack {
  'revision'?: (number | string | Long);
  /**
   * When it was applied (Unix milliseconds, the node's clock).
   */
  'appliedAtUnixMs'?: (number | string | Long);
}

/**
 * The shim has written every change up to `revision` to its kernel maps.
 */
export interface Ack__Output {
  'revision': (number);
  /**
   * When it was applied (Unix milliseconds, the node's clock).
   */
  'appliedAtUnixMs': (number);
}
