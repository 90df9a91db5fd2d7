// Original file: protos/palisade/v1/compiled.proto


/**
 * Whether an identity's endpoints are isolated (default deny) per direction.
 */
export interface Isolation {
  'identity'?: (number);
  'ingress'?: (boolean);
  'egress'?: (boolean);
}

/**
 * Whether an identity's endpoints are isolated (default deny) per direction.
 */
export interface Isolation__Output {
  'identity': (number);
  'ingress': (boolean);
  'egress': (boolean);
}
