// Original file: protos/palisade/v1/distribution.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { NodeMessage as _palisade_v1_NodeMessage, NodeMessage__Output as _palisade_v1_NodeMessage__Output } from '../../palisade/v1/NodeMessage.js';
import type { OperatorMessage as _palisade_v1_OperatorMessage, OperatorMessage__Output as _palisade_v1_OperatorMessage__Output } from '../../palisade/v1/OperatorMessage.js';

export interface DistributionClient extends grpc.Client {
  /**
   * The per-node policy stream. The first message must be a Hello.
   */
  Subscribe(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_palisade_v1_NodeMessage, _palisade_v1_OperatorMessage__Output>;
  Subscribe(options?: grpc.CallOptions): grpc.ClientDuplexStream<_palisade_v1_NodeMessage, _palisade_v1_OperatorMessage__Output>;
  /**
   * The per-node policy stream. The first message must be a Hello.
   */
  subscribe(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_palisade_v1_NodeMessage, _palisade_v1_OperatorMessage__Output>;
  subscribe(options?: grpc.CallOptions): grpc.ClientDuplexStream<_palisade_v1_NodeMessage, _palisade_v1_OperatorMessage__Output>;
  
}

export interface DistributionHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The per-node policy stream. The first message must be a Hello.
   */
  Subscribe: grpc.handleBidiStreamingCall<_palisade_v1_NodeMessage__Output, _palisade_v1_OperatorMessage>;
  
}

export interface DistributionDefinition extends grpc.ServiceDefinition {
  Subscribe: MethodDefinition<_palisade_v1_NodeMessage, _palisade_v1_OperatorMessage, _palisade_v1_NodeMessage__Output, _palisade_v1_OperatorMessage__Output>
}
