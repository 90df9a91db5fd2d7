// Original file: protos/palisade/v1/distribution.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Opens a stream.
 */
export interface Hello {
  /**
   * Must equal the node name bound to the client certificate.
   */
  'node'?: (string);
  /**
   * The epoch and revision of the state the shim holds (empty / 0: none).
   */
  'epoch'?: (string);
  'revision'?: (number | string | Long);
  /**
   * Features the shim supports (for example "l7-redirect"). Informational for now.
   */
  'capabilities'?: (string)[];
}

/**
 * Opens a stream.
 */
export interface Hello__Output {
  /**
   * Must equal the node name bound to the client certificate.
   */
  'node': (string);
  /**
   * The epoch and revision of the state the shim holds (empty / 0: none).
   */
  'epoch': (string);
  'revision': (number);
  /**
   * Features the shim supports (for example "l7-redirect"). Informational for now.
   */
  'capabilities': (string)[];
}
