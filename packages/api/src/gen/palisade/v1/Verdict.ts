// Original file: protos/palisade/v1/compiled.proto

export const Verdict = {
  VERDICT_UNSPECIFIED: 'VERDICT_UNSPECIFIED',
  VERDICT_ALLOW: 'VERDICT_ALLOW',
  VERDICT_DENY: 'VERDICT_DENY',
  /**
   * Send to the node's L7 proxy, which applies `http_rules`.
   */
  VERDICT_REDIRECT: 'VERDICT_REDIRECT',
} as const;

export type Verdict =
  | 'VERDICT_UNSPECIFIED'
  | 0
  | 'VERDICT_ALLOW'
  | 1
  | 'VERDICT_DENY'
  | 2
  /**
   * Send to the node's L7 proxy, which applies `http_rules`.
   */
  | 'VERDICT_REDIRECT'
  | 3

export type Verdict__Output = typeof Verdict[keyof typeof Verdict]
