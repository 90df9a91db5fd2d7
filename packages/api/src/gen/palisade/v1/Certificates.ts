// Original file: protos/palisade/v1/certificates.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { IssueRequest as _palisade_v1_IssueRequest, IssueRequest__Output as _palisade_v1_IssueRequest__Output } from '../../palisade/v1/IssueRequest.js';
import type { IssueResponse as _palisade_v1_IssueResponse, IssueResponse__Output as _palisade_v1_IssueResponse__Output } from '../../palisade/v1/IssueResponse.js';

export interface CertificatesClient extends grpc.Client {
  Issue(argument: _palisade_v1_IssueRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  Issue(argument: _palisade_v1_IssueRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  Issue(argument: _palisade_v1_IssueRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  Issue(argument: _palisade_v1_IssueRequest, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  issue(argument: _palisade_v1_IssueRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  issue(argument: _palisade_v1_IssueRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  issue(argument: _palisade_v1_IssueRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  issue(argument: _palisade_v1_IssueRequest, callback: grpc.requestCallback<_palisade_v1_IssueResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface CertificatesHandlers extends grpc.UntypedServiceImplementation {
  Issue: grpc.handleUnaryCall<_palisade_v1_IssueRequest__Output, _palisade_v1_IssueResponse>;
  
}

export interface CertificatesDefinition extends grpc.ServiceDefinition {
  Issue: MethodDefinition<_palisade_v1_IssueRequest, _palisade_v1_IssueResponse, _palisade_v1_IssueRequest__Output, _palisade_v1_IssueResponse__Output>
}
