/**
 * Which pod labels are security-relevant. Labels that differ per pod or per rollout
 * (a template hash, a pod name, a job UID) would give every pod its own identity and
 * explode the identity space, so they are excluded by default.
 *
 * Patterns are label keys where `*` matches any run of characters. A key is kept when it
 * matches an `include` pattern, or when it matches no `exclude` pattern.
 */

/** Label keys excluded from identities by default. */
export const DEFAULT_EXCLUDED_LABELS: readonly string[] = [
  'pod-template-hash',
  'pod-template-generation',
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/controller-uid',
  'controller-uid',
  'batch.kubernetes.io/job-name',
  'job-name',
  'batch.kubernetes.io/job-completion-index',
];

/** Configuration of the label filter. */
export interface LabelFilterConfig {
  /** Keys (or `*` patterns) to exclude. Default: DEFAULT_EXCLUDED_LABELS. */
  readonly exclude?: readonly string[];
  /** Keys (or `*` patterns) to keep even when excluded. */
  readonly include?: readonly string[];
}

/** Decides which label keys go into identities. */
export interface LabelFilter {
  /** True when labels with this key are part of the identity. */
  isRelevant(key: string): boolean;
}

function toRegex(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Builds a label filter. Decisions are cached per key. */
export function createLabelFilter(config: LabelFilterConfig = {}): LabelFilter {
  const exclude = (config.exclude ?? DEFAULT_EXCLUDED_LABELS).map(toRegex);
  const include = (config.include ?? []).map(toRegex);
  const cache = new Map<string, boolean>();
  return {
    isRelevant(key: string): boolean {
      let v = cache.get(key);
      if (v === undefined) {
        v = include.some((r) => r.test(key)) || !exclude.some((r) => r.test(key));
        cache.set(key, v);
      }
      return v;
    },
  };
}
