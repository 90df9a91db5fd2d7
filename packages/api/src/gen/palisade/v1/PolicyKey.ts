// Original file: protos/palisade/v1/compiled.proto

import type { Direction as _palisade_v1_Direction, Direction__Output as _palisade_v1_Direction__Output } from '../../palisade/v1/Direction.js';

/**
 * The key of a policy map entry, as the datapath's LPM trie holds it.
 */
export interface PolicyKey {
  /**
   * Identity of the endpoint the policy belongs to.
   */
  'subject'?: (number);
  'direction'?: (_palisade_v1_Direction);
  /**
   * Identity of the other end; 0 = any.
   */
  'remote'?: (number);
  /**
   * IANA protocol number; 0 = any (then port and prefix_len are 0).
   */
  'protocol'?: (number);
  /**
   * Port (or ICMP type), the first `prefix_len` of its 16 bits matter.
   */
  'port'?: (number);
  'prefixLen'?: (number);
}

/**
 * The key of a policy map entry, as the datapath's LPM trie holds it.
 */
export interface PolicyKey__Output {
  /**
   * Identity of the endpoint the policy belongs to.
   */
  'subject': (number);
  'direction': (_palisade_v1_Direction__Output);
  /**
   * Identity of the other end; 0 = any.
   */
  'remote': (number);
  /**
   * IANA protocol number; 0 = any (then port and prefix_len are 0).
   */
  'protocol': (number);
  /**
   * Port (or ICMP type), the first `prefix_len` of its 16 bits matter.
   */
  'port': (number);
  'prefixLen': (number);
}
