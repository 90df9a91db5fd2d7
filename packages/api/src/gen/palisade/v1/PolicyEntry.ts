// Original file: protos/palisade/v1/compiled.proto

import type { PolicyKey as _palisade_v1_PolicyKey, PolicyKey__Output as _palisade_v1_PolicyKey__Output } from '../../palisade/v1/PolicyKey.js';
import type { Verdict as _palisade_v1_Verdict, Verdict__Output as _palisade_v1_Verdict__Output } from '../../palisade/v1/Verdict.js';
import type { HttpRule as _palisade_v1_HttpRule, HttpRule__Output as _palisade_v1_HttpRule__Output } from '../../palisade/v1/HttpRule.js';

/**
 * An entry of the policy map. `rules` names the rules that decided it
 * (`<Kind/namespace/name>:<field path>`), for flow events.
 */
export interface PolicyEntry {
  'key'?: (_palisade_v1_PolicyKey | null);
  'verdict'?: (_palisade_v1_Verdict);
  'rules'?: (string)[];
  'httpRules'?: (_palisade_v1_HttpRule)[];
}

/**
 * An entry of the policy map. `rules` names the rules that decided it
 * (`<Kind/namespace/name>:<field path>`), for flow events.
 */
export interface PolicyEntry__Output {
  'key': (_palisade_v1_PolicyKey__Output | null);
  'verdict': (_palisade_v1_Verdict__Output);
  'rules': (string)[];
  'httpRules': (_palisade_v1_HttpRule__Output)[];
}
