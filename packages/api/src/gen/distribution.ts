import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _palisade_v1_Ack, Ack__Output as _palisade_v1_Ack__Output } from './palisade/v1/Ack.js';
import type { Delta as _palisade_v1_Delta, Delta__Output as _palisade_v1_Delta__Output } from './palisade/v1/Delta.js';
import type { DistributionClient as _palisade_v1_DistributionClient, DistributionDefinition as _palisade_v1_DistributionDefinition } from './palisade/v1/Distribution.js';
import type { Endpoint as _palisade_v1_Endpoint, Endpoint__Output as _palisade_v1_Endpoint__Output } from './palisade/v1/Endpoint.js';
import type { Hello as _palisade_v1_Hello, Hello__Output as _palisade_v1_Hello__Output } from './palisade/v1/Hello.js';
import type { HttpHeaderMatch as _palisade_v1_HttpHeaderMatch, HttpHeaderMatch__Output as _palisade_v1_HttpHeaderMatch__Output } from './palisade/v1/HttpHeaderMatch.js';
import type { HttpRule as _palisade_v1_HttpRule, HttpRule__Output as _palisade_v1_HttpRule__Output } from './palisade/v1/HttpRule.js';
import type { Identity as _palisade_v1_Identity, Identity__Output as _palisade_v1_Identity__Output } from './palisade/v1/Identity.js';
import type { IpcacheEntry as _palisade_v1_IpcacheEntry, IpcacheEntry__Output as _palisade_v1_IpcacheEntry__Output } from './palisade/v1/IpcacheEntry.js';
import type { Isolation as _palisade_v1_Isolation, Isolation__Output as _palisade_v1_Isolation__Output } from './palisade/v1/Isolation.js';
import type { NodeMessage as _palisade_v1_NodeMessage, NodeMessage__Output as _palisade_v1_NodeMessage__Output } from './palisade/v1/NodeMessage.js';
import type { OperatorMessage as _palisade_v1_OperatorMessage, OperatorMessage__Output as _palisade_v1_OperatorMessage__Output } from './palisade/v1/OperatorMessage.js';
import type { PolicyEntry as _palisade_v1_PolicyEntry, PolicyEntry__Output as _palisade_v1_PolicyEntry__Output } from './palisade/v1/PolicyEntry.js';
import type { PolicyKey as _palisade_v1_PolicyKey, PolicyKey__Output as _palisade_v1_PolicyKey__Output } from './palisade/v1/PolicyKey.js';
import type { Resync as _palisade_v1_Resync, Resync__Output as _palisade_v1_Resync__Output } from './palisade/v1/Resync.js';
import type { SnapshotChunk as _palisade_v1_SnapshotChunk, SnapshotChunk__Output as _palisade_v1_SnapshotChunk__Output } from './palisade/v1/SnapshotChunk.js';
import type { StateChange as _palisade_v1_StateChange, StateChange__Output as _palisade_v1_StateChange__Output } from './palisade/v1/StateChange.js';
import type { Synced as _palisade_v1_Synced, Synced__Output as _palisade_v1_Synced__Output } from './palisade/v1/Synced.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  palisade: {
    v1: {
      Ack: MessageTypeDefinition<_palisade_v1_Ack, _palisade_v1_Ack__Output>
      Delta: MessageTypeDefinition<_palisade_v1_Delta, _palisade_v1_Delta__Output>
      Direction: EnumTypeDefinition
      Distribution: SubtypeConstructor<typeof grpc.Client, _palisade_v1_DistributionClient> & { service: _palisade_v1_DistributionDefinition }
      Endpoint: MessageTypeDefinition<_palisade_v1_Endpoint, _palisade_v1_Endpoint__Output>
      Hello: MessageTypeDefinition<_palisade_v1_Hello, _palisade_v1_Hello__Output>
      HttpHeaderMatch: MessageTypeDefinition<_palisade_v1_HttpHeaderMatch, _palisade_v1_HttpHeaderMatch__Output>
      HttpRule: MessageTypeDefinition<_palisade_v1_HttpRule, _palisade_v1_HttpRule__Output>
      Identity: MessageTypeDefinition<_palisade_v1_Identity, _palisade_v1_Identity__Output>
      IpcacheEntry: MessageTypeDefinition<_palisade_v1_IpcacheEntry, _palisade_v1_IpcacheEntry__Output>
      Isolation: MessageTypeDefinition<_palisade_v1_Isolation, _palisade_v1_Isolation__Output>
      NodeMessage: MessageTypeDefinition<_palisade_v1_NodeMessage, _palisade_v1_NodeMessage__Output>
      OperatorMessage: MessageTypeDefinition<_palisade_v1_OperatorMessage, _palisade_v1_OperatorMessage__Output>
      PolicyEntry: MessageTypeDefinition<_palisade_v1_PolicyEntry, _palisade_v1_PolicyEntry__Output>
      PolicyKey: MessageTypeDefinition<_palisade_v1_PolicyKey, _palisade_v1_PolicyKey__Output>
      Resync: MessageTypeDefinition<_palisade_v1_Resync, _palisade_v1_Resync__Output>
      SnapshotChunk: MessageTypeDefinition<_palisade_v1_SnapshotChunk, _palisade_v1_SnapshotChunk__Output>
      StateChange: MessageTypeDefinition<_palisade_v1_StateChange, _palisade_v1_StateChange__Output>
      Synced: MessageTypeDefinition<_palisade_v1_Synced, _palisade_v1_Synced__Output>
      Verdict: EnumTypeDefinition
    }
  }
}

