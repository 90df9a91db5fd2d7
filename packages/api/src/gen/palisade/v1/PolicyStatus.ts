// Original file: protos/palisade/v1/integrations.proto

import type { Long } from '@grpc/proto-loader';

export interface PolicyStatus {
  /**
   * `Kind/namespace/name` (`NetworkPolicy/prod/web`, `PalisadeClusterNetworkPolicy//x`).
   */
  'policy'?: (string);
  'nodesRealized'?: (number);
  'nodesDesired'?: (number);
  /**
   * The distribution revision that carried the policy's last change.
   */
  'revision'?: (number | string | Long);
}

export interface PolicyStatus__Output {
  /**
   * `Kind/namespace/name` (`NetworkPolicy/prod/web`, `PalisadeClusterNetworkPolicy//x`).
   */
  'policy': (string);
  'nodesRealized': (number);
  'nodesDesired': (number);
  /**
   * The distribution revision that carried the policy's last change.
   */
  'revision': (number);
}
