/**
 * Size limits of the Palisade kinds. They exist for the apiserver: it estimates the worst-case
 * cost of every CEL rule in a CRD from the declared `maxLength`, `maxItems` and
 * `maxProperties` of what the rule reads and of the lists around it, and refuses a CRD whose
 * rules could exceed its budget. The zod schemas carry the same limits, so a file the engine
 * accepts is also one the apiserver accepts. docs/control-plane-build.md lists them.
 */

/** Limits on strings, in characters. */
export const MAX_LENGTH = {
  /**
   * A CIDR: the longest IPv6 text form with an embedded IPv4 address and a prefix length,
   * `0000:0000:0000:0000:0000:ffff:255.255.255.255/128`, is 49 characters.
   */
  cidr: 49,
  /** A port given as a number or an IANA service name (names are at most 15 characters). */
  port: 15,
  /** A label key: a DNS-subdomain prefix (253), `/`, a name (63). */
  labelKey: 317,
  /** A label value. */
  labelValue: 63,
  /** A Kubernetes object name that is a DNS subdomain (ServiceAccount). */
  name: 253,
  /** A namespace name (a DNS label). */
  namespace: 63,
  /** A SecurityIdentity's canonical label-set key. */
  identityKey: 32768,
} as const;

/** Limits on lists and maps, in entries. */
export const MAX_ITEMS = {
  /** Rules in each of ingress, egress, ingressDeny, egressDeny. */
  rules: 128,
  /** Peers in one rule's `from` or `to`. */
  peers: 32,
  /** Port entries in one rule. */
  ports: 64,
  /** `except` prefixes of one cidrSet. */
  except: 32,
  /** HTTP rules on one rule. */
  httpRules: 64,
  /** Headers of one HTTP rule. */
  httpHeaders: 32,
  /** Entries of a selector's `matchLabels`. */
  matchLabels: 64,
  /** Entries of a selector's `matchExpressions`. */
  matchExpressions: 32,
  /** Values of one selector expression. */
  expressionValues: 64,
  /** Labels of a SecurityIdentity (pod labels, and namespace labels, each). */
  identityLabels: 128,
  /** Named ports of a SecurityIdentity. */
  namedPorts: 64,
} as const;
