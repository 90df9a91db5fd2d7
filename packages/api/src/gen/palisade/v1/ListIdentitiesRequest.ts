// Original file: protos/palisade/v1/integrations.proto


export interface ListIdentitiesRequest {
  /**
   * Only identities that have every one of these labels (`k8s:app=web`).
   */
  'labelFilter'?: (string)[];
}

export interface ListIdentitiesRequest__Output {
  /**
   * Only identities that have every one of these labels (`k8s:app=web`).
   */
  'labelFilter': (string)[];
}
