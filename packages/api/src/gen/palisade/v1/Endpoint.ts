// Original file: protos/palisade/v1/compiled.proto


/**
 * A pod as the datapath knows it.
 */
export interface Endpoint {
  /**
   * `namespace/name`.
   */
  'pod'?: (string);
  'identity'?: (number);
  'ips'?: (string)[];
  /**
   * The node the pod is scheduled to; empty when unknown.
   */
  'node'?: (string);
}

/**
 * A pod as the datapath knows it.
 */
export interface Endpoint__Output {
  /**
   * `namespace/name`.
   */
  'pod': (string);
  'identity': (number);
  'ips': (string)[];
  /**
   * The node the pod is scheduled to; empty when unknown.
   */
  'node': (string);
}
