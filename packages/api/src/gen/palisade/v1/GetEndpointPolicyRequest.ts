// Original file: protos/palisade/v1/integrations.proto


export interface GetEndpointPolicyRequest {
  /**
   * `namespace/name` of a pod.
   */
  'pod'?: (string);
  'identity'?: (number);
  'target'?: "pod"|"identity";
}

export interface GetEndpointPolicyRequest__Output {
  /**
   * `namespace/name` of a pod.
   */
  'pod'?: (string);
  'identity'?: (number);
  'target'?: "pod"|"identity";
}
