// Original file: protos/palisade/v1/certificates.proto

import type { Long } from '@grpc/proto-loader';

export interface IssueResponse {
  /**
   * The client certificate, PEM, and the CA that signed it.
   */
  'certificatePem'?: (string);
  'caPem'?: (string);
  'notAfterUnixMs'?: (number | string | Long);
}

export interface IssueResponse__Output {
  /**
   * The client certificate, PEM, and the CA that signed it.
   */
  'certificatePem': (string);
  'caPem': (string);
  'notAfterUnixMs': (number);
}
