// Original file: protos/palisade/v1/integrations.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { EndpointPolicy as _palisade_v1_EndpointPolicy, EndpointPolicy__Output as _palisade_v1_EndpointPolicy__Output } from '../../palisade/v1/EndpointPolicy.js';
import type { GetEndpointPolicyRequest as _palisade_v1_GetEndpointPolicyRequest, GetEndpointPolicyRequest__Output as _palisade_v1_GetEndpointPolicyRequest__Output } from '../../palisade/v1/GetEndpointPolicyRequest.js';
import type { IdentityEvent as _palisade_v1_IdentityEvent, IdentityEvent__Output as _palisade_v1_IdentityEvent__Output } from '../../palisade/v1/IdentityEvent.js';
import type { ListIdentitiesRequest as _palisade_v1_ListIdentitiesRequest, ListIdentitiesRequest__Output as _palisade_v1_ListIdentitiesRequest__Output } from '../../palisade/v1/ListIdentitiesRequest.js';
import type { ListIdentitiesResponse as _palisade_v1_ListIdentitiesResponse, ListIdentitiesResponse__Output as _palisade_v1_ListIdentitiesResponse__Output } from '../../palisade/v1/ListIdentitiesResponse.js';
import type { ListPolicyStatusRequest as _palisade_v1_ListPolicyStatusRequest, ListPolicyStatusRequest__Output as _palisade_v1_ListPolicyStatusRequest__Output } from '../../palisade/v1/ListPolicyStatusRequest.js';
import type { ListPolicyStatusResponse as _palisade_v1_ListPolicyStatusResponse, ListPolicyStatusResponse__Output as _palisade_v1_ListPolicyStatusResponse__Output } from '../../palisade/v1/ListPolicyStatusResponse.js';
import type { SimulateRequest as _palisade_v1_SimulateRequest, SimulateRequest__Output as _palisade_v1_SimulateRequest__Output } from '../../palisade/v1/SimulateRequest.js';
import type { SimulateResponse as _palisade_v1_SimulateResponse, SimulateResponse__Output as _palisade_v1_SimulateResponse__Output } from '../../palisade/v1/SimulateResponse.js';
import type { WatchIdentitiesRequest as _palisade_v1_WatchIdentitiesRequest, WatchIdentitiesRequest__Output as _palisade_v1_WatchIdentitiesRequest__Output } from '../../palisade/v1/WatchIdentitiesRequest.js';

export interface IntegrationsClient extends grpc.Client {
  /**
   * The compiled policy of an endpoint (`namespace/name`) or of an identity.
   */
  GetEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  GetEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  GetEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  GetEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  /**
   * The compiled policy of an endpoint (`namespace/name`) or of an identity.
   */
  getEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  getEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  getEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  getEndpointPolicy(argument: _palisade_v1_GetEndpointPolicyRequest, callback: grpc.requestCallback<_palisade_v1_EndpointPolicy__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every identity in use, with its labels.
   */
  ListIdentities(argument: _palisade_v1_ListIdentitiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  ListIdentities(argument: _palisade_v1_ListIdentitiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  ListIdentities(argument: _palisade_v1_ListIdentitiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  ListIdentities(argument: _palisade_v1_ListIdentitiesRequest, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every identity in use, with its labels.
   */
  listIdentities(argument: _palisade_v1_ListIdentitiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  listIdentities(argument: _palisade_v1_ListIdentitiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  listIdentities(argument: _palisade_v1_ListIdentitiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  listIdentities(argument: _palisade_v1_ListIdentitiesRequest, callback: grpc.requestCallback<_palisade_v1_ListIdentitiesResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Realization of policies: on how many of the nodes that need it each policy is in the
   * kernel (the `Enforced` condition of PNP/PCNP, and the only place for NetworkPolicy).
   */
  ListPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  ListPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  ListPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  ListPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Realization of policies: on how many of the nodes that need it each policy is in the
   * kernel (the `Enforced` condition of PNP/PCNP, and the only place for NetworkPolicy).
   */
  listPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  listPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  listPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  listPolicyStatus(argument: _palisade_v1_ListPolicyStatusRequest, callback: grpc.requestCallback<_palisade_v1_ListPolicyStatusResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The verdict for one flow, with the rules that decided it: the same answer as
   * `palisade policy simulate` / `palisade policy explain` on the same objects.
   */
  Simulate(argument: _palisade_v1_SimulateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  Simulate(argument: _palisade_v1_SimulateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  Simulate(argument: _palisade_v1_SimulateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  Simulate(argument: _palisade_v1_SimulateRequest, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The verdict for one flow, with the rules that decided it: the same answer as
   * `palisade policy simulate` / `palisade policy explain` on the same objects.
   */
  simulate(argument: _palisade_v1_SimulateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  simulate(argument: _palisade_v1_SimulateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  simulate(argument: _palisade_v1_SimulateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  simulate(argument: _palisade_v1_SimulateRequest, callback: grpc.requestCallback<_palisade_v1_SimulateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The identities as they are now (`initial`), then each change.
   */
  WatchIdentities(argument: _palisade_v1_WatchIdentitiesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_palisade_v1_IdentityEvent__Output>;
  WatchIdentities(argument: _palisade_v1_WatchIdentitiesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_palisade_v1_IdentityEvent__Output>;
  /**
   * The identities as they are now (`initial`), then each change.
   */
  watchIdentities(argument: _palisade_v1_WatchIdentitiesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_palisade_v1_IdentityEvent__Output>;
  watchIdentities(argument: _palisade_v1_WatchIdentitiesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_palisade_v1_IdentityEvent__Output>;
  
}

export interface IntegrationsHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The compiled policy of an endpoint (`namespace/name`) or of an identity.
   */
  GetEndpointPolicy: grpc.handleUnaryCall<_palisade_v1_GetEndpointPolicyRequest__Output, _palisade_v1_EndpointPolicy>;
  
  /**
   * Every identity in use, with its labels.
   */
  ListIdentities: grpc.handleUnaryCall<_palisade_v1_ListIdentitiesRequest__Output, _palisade_v1_ListIdentitiesResponse>;
  
  /**
   * Realization of policies: on how many of the nodes that need it each policy is in the
   * kernel (the `Enforced` condition of PNP/PCNP, and the only place for NetworkPolicy).
   */
  ListPolicyStatus: grpc.handleUnaryCall<_palisade_v1_ListPolicyStatusRequest__Output, _palisade_v1_ListPolicyStatusResponse>;
  
  /**
   * The verdict for one flow, with the rules that decided it: the same answer as
   * `palisade policy simulate` / `palisade policy explain` on the same objects.
   */
  Simulate: grpc.handleUnaryCall<_palisade_v1_SimulateRequest__Output, _palisade_v1_SimulateResponse>;
  
  /**
   * The identities as they are now (`initial`), then each change.
   */
  WatchIdentities: grpc.handleServerStreamingCall<_palisade_v1_WatchIdentitiesRequest__Output, _palisade_v1_IdentityEvent>;
  
}

export interface IntegrationsDefinition extends grpc.ServiceDefinition {
  GetEndpointPolicy: MethodDefinition<_palisade_v1_GetEndpointPolicyRequest, _palisade_v1_EndpointPolicy, _palisade_v1_GetEndpointPolicyRequest__Output, _palisade_v1_EndpointPolicy__Output>
  ListIdentities: MethodDefinition<_palisade_v1_ListIdentitiesRequest, _palisade_v1_ListIdentitiesResponse, _palisade_v1_ListIdentitiesRequest__Output, _palisade_v1_ListIdentitiesResponse__Output>
  ListPolicyStatus: MethodDefinition<_palisade_v1_ListPolicyStatusRequest, _palisade_v1_ListPolicyStatusResponse, _palisade_v1_ListPolicyStatusRequest__Output, _palisade_v1_ListPolicyStatusResponse__Output>
  Simulate: MethodDefinition<_palisade_v1_SimulateRequest, _palisade_v1_SimulateResponse, _palisade_v1_SimulateRequest__Output, _palisade_v1_SimulateResponse__Output>
  WatchIdentities: MethodDefinition<_palisade_v1_WatchIdentitiesRequest, _palisade_v1_IdentityEvent, _palisade_v1_WatchIdentitiesRequest__Output, _palisade_v1_IdentityEvent__Output>
}
