import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Endpoint as _palisade_v1_Endpoint, Endpoint__Output as _palisade_v1_Endpoint__Output } from './palisade/v1/Endpoint.js';
import type { EndpointPolicy as _palisade_v1_EndpointPolicy, EndpointPolicy__Output as _palisade_v1_EndpointPolicy__Output } from './palisade/v1/EndpointPolicy.js';
import type { GetEndpointPolicyRequest as _palisade_v1_GetEndpointPolicyRequest, GetEndpointPolicyRequest__Output as _palisade_v1_GetEndpointPolicyRequest__Output } from './palisade/v1/GetEndpointPolicyRequest.js';
import type { HttpHeaderMatch as _palisade_v1_HttpHeaderMatch, HttpHeaderMatch__Output as _palisade_v1_HttpHeaderMatch__Output } from './palisade/v1/HttpHeaderMatch.js';
import type { HttpRule as _palisade_v1_HttpRule, HttpRule__Output as _palisade_v1_HttpRule__Output } from './palisade/v1/HttpRule.js';
import type { Identity as _palisade_v1_Identity, Identity__Output as _palisade_v1_Identity__Output } from './palisade/v1/Identity.js';
import type { IdentityEvent as _palisade_v1_IdentityEvent, IdentityEvent__Output as _palisade_v1_IdentityEvent__Output } from './palisade/v1/IdentityEvent.js';
import type { IntegrationsClient as _palisade_v1_IntegrationsClient, IntegrationsDefinition as _palisade_v1_IntegrationsDefinition } from './palisade/v1/Integrations.js';
import type { IpcacheEntry as _palisade_v1_IpcacheEntry, IpcacheEntry__Output as _palisade_v1_IpcacheEntry__Output } from './palisade/v1/IpcacheEntry.js';
import type { Isolation as _palisade_v1_Isolation, Isolation__Output as _palisade_v1_Isolation__Output } from './palisade/v1/Isolation.js';
import type { ListIdentitiesRequest as _palisade_v1_ListIdentitiesRequest, ListIdentitiesRequest__Output as _palisade_v1_ListIdentitiesRequest__Output } from './palisade/v1/ListIdentitiesRequest.js';
import type { ListIdentitiesResponse as _palisade_v1_ListIdentitiesResponse, ListIdentitiesResponse__Output as _palisade_v1_ListIdentitiesResponse__Output } from './palisade/v1/ListIdentitiesResponse.js';
import type { ListPolicyStatusRequest as _palisade_v1_ListPolicyStatusRequest, ListPolicyStatusRequest__Output as _palisade_v1_ListPolicyStatusRequest__Output } from './palisade/v1/ListPolicyStatusRequest.js';
import type { ListPolicyStatusResponse as _palisade_v1_ListPolicyStatusResponse, ListPolicyStatusResponse__Output as _palisade_v1_ListPolicyStatusResponse__Output } from './palisade/v1/ListPolicyStatusResponse.js';
import type { PolicyEntry as _palisade_v1_PolicyEntry, PolicyEntry__Output as _palisade_v1_PolicyEntry__Output } from './palisade/v1/PolicyEntry.js';
import type { PolicyKey as _palisade_v1_PolicyKey, PolicyKey__Output as _palisade_v1_PolicyKey__Output } from './palisade/v1/PolicyKey.js';
import type { PolicyStatus as _palisade_v1_PolicyStatus, PolicyStatus__Output as _palisade_v1_PolicyStatus__Output } from './palisade/v1/PolicyStatus.js';
import type { SimulateRequest as _palisade_v1_SimulateRequest, SimulateRequest__Output as _palisade_v1_SimulateRequest__Output } from './palisade/v1/SimulateRequest.js';
import type { SimulateResponse as _palisade_v1_SimulateResponse, SimulateResponse__Output as _palisade_v1_SimulateResponse__Output } from './palisade/v1/SimulateResponse.js';
import type { StateChange as _palisade_v1_StateChange, StateChange__Output as _palisade_v1_StateChange__Output } from './palisade/v1/StateChange.js';
import type { WatchIdentitiesRequest as _palisade_v1_WatchIdentitiesRequest, WatchIdentitiesRequest__Output as _palisade_v1_WatchIdentitiesRequest__Output } from './palisade/v1/WatchIdentitiesRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  palisade: {
    v1: {
      Direction: EnumTypeDefinition
      Endpoint: MessageTypeDefinition<_palisade_v1_Endpoint, _palisade_v1_Endpoint__Output>
      EndpointPolicy: MessageTypeDefinition<_palisade_v1_EndpointPolicy, _palisade_v1_EndpointPolicy__Output>
      GetEndpointPolicyRequest: MessageTypeDefinition<_palisade_v1_GetEndpointPolicyRequest, _palisade_v1_GetEndpointPolicyRequest__Output>
      HttpHeaderMatch: MessageTypeDefinition<_palisade_v1_HttpHeaderMatch, _palisade_v1_HttpHeaderMatch__Output>
      HttpRule: MessageTypeDefinition<_palisade_v1_HttpRule, _palisade_v1_HttpRule__Output>
      Identity: MessageTypeDefinition<_palisade_v1_Identity, _palisade_v1_Identity__Output>
      IdentityEvent: MessageTypeDefinition<_palisade_v1_IdentityEvent, _palisade_v1_IdentityEvent__Output>
      Integrations: SubtypeConstructor<typeof grpc.Client, _palisade_v1_IntegrationsClient> & { service: _palisade_v1_IntegrationsDefinition }
      IpcacheEntry: MessageTypeDefinition<_palisade_v1_IpcacheEntry, _palisade_v1_IpcacheEntry__Output>
      Isolation: MessageTypeDefinition<_palisade_v1_Isolation, _palisade_v1_Isolation__Output>
      ListIdentitiesRequest: MessageTypeDefinition<_palisade_v1_ListIdentitiesRequest, _palisade_v1_ListIdentitiesRequest__Output>
      ListIdentitiesResponse: MessageTypeDefinition<_palisade_v1_ListIdentitiesResponse, _palisade_v1_ListIdentitiesResponse__Output>
      ListPolicyStatusRequest: MessageTypeDefinition<_palisade_v1_ListPolicyStatusRequest, _palisade_v1_ListPolicyStatusRequest__Output>
      ListPolicyStatusResponse: MessageTypeDefinition<_palisade_v1_ListPolicyStatusResponse, _palisade_v1_ListPolicyStatusResponse__Output>
      PolicyEntry: MessageTypeDefinition<_palisade_v1_PolicyEntry, _palisade_v1_PolicyEntry__Output>
      PolicyKey: MessageTypeDefinition<_palisade_v1_PolicyKey, _palisade_v1_PolicyKey__Output>
      PolicyStatus: MessageTypeDefinition<_palisade_v1_PolicyStatus, _palisade_v1_PolicyStatus__Output>
      SimulateRequest: MessageTypeDefinition<_palisade_v1_SimulateRequest, _palisade_v1_SimulateRequest__Output>
      SimulateResponse: MessageTypeDefinition<_palisade_v1_SimulateResponse, _palisade_v1_SimulateResponse__Output>
      StateChange: MessageTypeDefinition<_palisade_v1_StateChange, _palisade_v1_StateChange__Output>
      Verdict: EnumTypeDefinition
      WatchIdentitiesRequest: MessageTypeDefinition<_palisade_v1_WatchIdentitiesRequest, _palisade_v1_WatchIdentitiesRequest__Output>
    }
  }
}

