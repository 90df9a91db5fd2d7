import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Endpoint as _palisade_v1_Endpoint, Endpoint__Output as _palisade_v1_Endpoint__Output } from './palisade/v1/Endpoint.js';
import type { HttpHeaderMatch as _palisade_v1_HttpHeaderMatch, HttpHeaderMatch__Output as _palisade_v1_HttpHeaderMatch__Output } from './palisade/v1/HttpHeaderMatch.js';
import type { HttpRule as _palisade_v1_HttpRule, HttpRule__Output as _palisade_v1_HttpRule__Output } from './palisade/v1/HttpRule.js';
import type { Identity as _palisade_v1_Identity, Identity__Output as _palisade_v1_Identity__Output } from './palisade/v1/Identity.js';
import type { IpcacheEntry as _palisade_v1_IpcacheEntry, IpcacheEntry__Output as _palisade_v1_IpcacheEntry__Output } from './palisade/v1/IpcacheEntry.js';
import type { Isolation as _palisade_v1_Isolation, Isolation__Output as _palisade_v1_Isolation__Output } from './palisade/v1/Isolation.js';
import type { PolicyEntry as _palisade_v1_PolicyEntry, PolicyEntry__Output as _palisade_v1_PolicyEntry__Output } from './palisade/v1/PolicyEntry.js';
import type { PolicyKey as _palisade_v1_PolicyKey, PolicyKey__Output as _palisade_v1_PolicyKey__Output } from './palisade/v1/PolicyKey.js';
import type { StateChange as _palisade_v1_StateChange, StateChange__Output as _palisade_v1_StateChange__Output } from './palisade/v1/StateChange.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  palisade: {
    v1: {
      Direction: EnumTypeDefinition
      Endpoint: MessageTypeDefinition<_palisade_v1_Endpoint, _palisade_v1_Endpoint__Output>
      HttpHeaderMatch: MessageTypeDefinition<_palisade_v1_HttpHeaderMatch, _palisade_v1_HttpHeaderMatch__Output>
      HttpRule: MessageTypeDefinition<_palisade_v1_HttpRule, _palisade_v1_HttpRule__Output>
      Identity: MessageTypeDefinition<_palisade_v1_Identity, _palisade_v1_Identity__Output>
      IpcacheEntry: MessageTypeDefinition<_palisade_v1_IpcacheEntry, _palisade_v1_IpcacheEntry__Output>
      Isolation: MessageTypeDefinition<_palisade_v1_Isolation, _palisade_v1_Isolation__Output>
      PolicyEntry: MessageTypeDefinition<_palisade_v1_PolicyEntry, _palisade_v1_PolicyEntry__Output>
      PolicyKey: MessageTypeDefinition<_palisade_v1_PolicyKey, _palisade_v1_PolicyKey__Output>
      StateChange: MessageTypeDefinition<_palisade_v1_StateChange, _palisade_v1_StateChange__Output>
      Verdict: EnumTypeDefinition
    }
  }
}

