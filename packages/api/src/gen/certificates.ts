import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CertificatesClient as _palisade_v1_CertificatesClient, CertificatesDefinition as _palisade_v1_CertificatesDefinition } from './palisade/v1/Certificates.js';
import type { IssueRequest as _palisade_v1_IssueRequest, IssueRequest__Output as _palisade_v1_IssueRequest__Output } from './palisade/v1/IssueRequest.js';
import type { IssueResponse as _palisade_v1_IssueResponse, IssueResponse__Output as _palisade_v1_IssueResponse__Output } from './palisade/v1/IssueResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  palisade: {
    v1: {
      Certificates: SubtypeConstructor<typeof grpc.Client, _palisade_v1_CertificatesClient> & { service: _palisade_v1_CertificatesDefinition }
      IssueRequest: MessageTypeDefinition<_palisade_v1_IssueRequest, _palisade_v1_IssueRequest__Output>
      IssueResponse: MessageTypeDefinition<_palisade_v1_IssueResponse, _palisade_v1_IssueResponse__Output>
    }
  }
}

