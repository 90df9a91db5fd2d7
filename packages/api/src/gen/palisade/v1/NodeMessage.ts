// Original file: protos/palisade/v1/distribution.proto

import type { Hello as _palisade_v1_Hello, Hello__Output as _palisade_v1_Hello__Output } from '../../palisade/v1/Hello.js';
import type { Ack as _palisade_v1_Ack, Ack__Output as _palisade_v1_Ack__Output } from '../../palisade/v1/Ack.js';
import type { Resync as _palisade_v1_Resync, Resync__Output as _palisade_v1_Resync__Output } from '../../palisade/v1/Resync.js';

/**
 * What a shim sends.
 */
export interface NodeMessage {
  'hello'?: (_palisade_v1_Hello | null);
  'ack'?: (_palisade_v1_Ack | null);
  'resync'?: (_palisade_v1_Resync | null);
  'body'?: "hello"|"ack"|"resync";
}

/**
 * What a shim sends.
 */
export interface NodeMessage__Output {
  'hello'?: (_palisade_v1_Hello__Output | null);
  'ack'?: (_palisade_v1_Ack__Output | null);
  'resync'?: (_palisade_v1_Resync__Output | null);
  'body'?: "hello"|"ack"|"resync";
}
