// Original file: protos/palisade/v1/compiled.proto


/**
 * A security identity and its labels (`k8s:app=web`, `ns:name=prod`, `reserved:world`, …).
 */
export interface Identity {
  'id'?: (number);
  'labels'?: (string)[];
}

/**
 * A security identity and its labels (`k8s:app=web`, `ns:name=prod`, `reserved:world`, …).
 */
export interface Identity__Output {
  'id': (number);
  'labels': (string)[];
}
