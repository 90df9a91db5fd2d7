// Original file: protos/palisade/v1/integrations.proto


export interface SimulateResponse {
  /**
   * `allow` or `deny`.
   */
  'verdict'?: (string);
  /**
   * Why, in words (as `palisade policy explain` prints it).
   */
  'reason'?: (string);
  /**
   * The rules that decided, per direction (`<Kind/namespace/name>:<field path>`).
   */
  'egressRules'?: (string)[];
  'ingressRules'?: (string)[];
  'fromIdentity'?: (number);
  'toIdentity'?: (number);
}

export interface SimulateResponse__Output {
  /**
   * `allow` or `deny`.
   */
  'verdict': (string);
  /**
   * Why, in words (as `palisade policy explain` prints it).
   */
  'reason': (string);
  /**
   * The rules that decided, per direction (`<Kind/namespace/name>:<field path>`).
   */
  'egressRules': (string)[];
  'ingressRules': (string)[];
  'fromIdentity': (number);
  'toIdentity': (number);
}
