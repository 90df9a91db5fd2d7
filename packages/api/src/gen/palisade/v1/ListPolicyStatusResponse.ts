// Original file: protos/palisade/v1/integrations.proto

import type { PolicyStatus as _palisade_v1_PolicyStatus, PolicyStatus__Output as _palisade_v1_PolicyStatus__Output } from '../../palisade/v1/PolicyStatus.js';

export interface ListPolicyStatusResponse {
  'policies'?: (_palisade_v1_PolicyStatus)[];
}

export interface ListPolicyStatusResponse__Output {
  'policies': (_palisade_v1_PolicyStatus__Output)[];
}
