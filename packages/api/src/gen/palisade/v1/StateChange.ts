// Original file: protos/palisade/v1/compiled.proto

import type { Identity as _palisade_v1_Identity, Identity__Output as _palisade_v1_Identity__Output } from '../../palisade/v1/Identity.js';
import type { IpcacheEntry as _palisade_v1_IpcacheEntry, IpcacheEntry__Output as _palisade_v1_IpcacheEntry__Output } from '../../palisade/v1/IpcacheEntry.js';
import type { Endpoint as _palisade_v1_Endpoint, Endpoint__Output as _palisade_v1_Endpoint__Output } from '../../palisade/v1/Endpoint.js';
import type { Isolation as _palisade_v1_Isolation, Isolation__Output as _palisade_v1_Isolation__Output } from '../../palisade/v1/Isolation.js';
import type { PolicyEntry as _palisade_v1_PolicyEntry, PolicyEntry__Output as _palisade_v1_PolicyEntry__Output } from '../../palisade/v1/PolicyEntry.js';
import type { PolicyKey as _palisade_v1_PolicyKey, PolicyKey__Output as _palisade_v1_PolicyKey__Output } from '../../palisade/v1/PolicyKey.js';

/**
 * A change to a node's compiled state: removals are applied before upserts.
 */
export interface StateChange {
  'identities'?: (_palisade_v1_Identity)[];
  'removedIdentities'?: (number)[];
  'ipcache'?: (_palisade_v1_IpcacheEntry)[];
  'removedPrefixes'?: (string)[];
  'endpoints'?: (_palisade_v1_Endpoint)[];
  'removedEndpoints'?: (string)[];
  'isolation'?: (_palisade_v1_Isolation)[];
  'removedIsolation'?: (number)[];
  'policy'?: (_palisade_v1_PolicyEntry)[];
  'removedPolicy'?: (_palisade_v1_PolicyKey)[];
}

/**
 * A change to a node's compiled state: removals are applied before upserts.
 */
export interface StateChange__Output {
  'identities': (_palisade_v1_Identity__Output)[];
  'removedIdentities': (number)[];
  'ipcache': (_palisade_v1_IpcacheEntry__Output)[];
  'removedPrefixes': (string)[];
  'endpoints': (_palisade_v1_Endpoint__Output)[];
  'removedEndpoints': (string)[];
  'isolation': (_palisade_v1_Isolation__Output)[];
  'removedIsolation': (number)[];
  'policy': (_palisade_v1_PolicyEntry__Output)[];
  'removedPolicy': (_palisade_v1_PolicyKey__Output)[];
}
