// Original file: protos/palisade/v1/certificates.proto


export interface IssueRequest {
  /**
   * The node the certificate is for.
   */
  'node'?: (string);
  /**
   * A service-account token bound to a shim Pod on that node.
   */
  'token'?: (string);
  /**
   * The shim's public key, PEM (SPKI). The private key never leaves the node.
   */
  'publicKeyPem'?: (string);
}

export interface IssueRequest__Output {
  /**
   * The node the certificate is for.
   */
  'node': (string);
  /**
   * A service-account token bound to a shim Pod on that node.
   */
  'token': (string);
  /**
   * The shim's public key, PEM (SPKI). The private key never leaves the node.
   */
  'publicKeyPem': (string);
}
