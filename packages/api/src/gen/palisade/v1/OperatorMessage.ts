// Original file: protos/palisade/v1/distribution.proto

import type { SnapshotChunk as _palisade_v1_SnapshotChunk, SnapshotChunk__Output as _palisade_v1_SnapshotChunk__Output } from '../../palisade/v1/SnapshotChunk.js';
import type { Synced as _palisade_v1_Synced, Synced__Output as _palisade_v1_Synced__Output } from '../../palisade/v1/Synced.js';
import type { Delta as _palisade_v1_Delta, Delta__Output as _palisade_v1_Delta__Output } from '../../palisade/v1/Delta.js';

/**
 * What the operator sends.
 */
export interface OperatorMessage {
  'snapshot'?: (_palisade_v1_SnapshotChunk | null);
  'synced'?: (_palisade_v1_Synced | null);
  'delta'?: (_palisade_v1_Delta | null);
  'body'?: "snapshot"|"synced"|"delta";
}

/**
 * What the operator sends.
 */
export interface OperatorMessage__Output {
  'snapshot'?: (_palisade_v1_SnapshotChunk__Output | null);
  'synced'?: (_palisade_v1_Synced__Output | null);
  'delta'?: (_palisade_v1_Delta__Output | null);
  'body'?: "snapshot"|"synced"|"delta";
}
