/**
 * Kubernetes label selectors (matchLabels + matchExpressions), validated as the apiserver
 * validates them and compiled to a matcher with a canonical key, so that equal selectors
 * written differently share one entry in the selector cache.
 *
 * Invariant: the requirements of a selector are ANDed; an empty selector matches every
 * label set.
 */
import { PolicyError } from '../errors.js';
import { labelKeyError, labelValueError, type Labels } from './labels.js';

/** The wire shape of a label selector, as in `metav1.LabelSelector`. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?:
    | readonly {
        readonly key: string;
        readonly operator: string;
        readonly values?: readonly string[] | undefined;
      }[]
    | undefined;
}

/** One requirement of a compiled selector. */
export type Requirement =
  | { readonly op: 'In'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'NotIn'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'Exists'; readonly key: string }
  | { readonly op: 'DoesNotExist'; readonly key: string };

/** A validated selector: its requirements (sorted), a canonical key, and a matcher. */
export interface Selector {
  readonly requirements: readonly Requirement[];
  /** Canonical text; two selectors with the same key select the same label sets. */
  readonly key: string;
  /** True when the selector is empty and so selects everything. */
  readonly matchesAll: boolean;
}

/** The selector that matches every label set. */
export const EVERYTHING: Selector = { requirements: [], key: '{}', matchesAll: true };

/**
 * Validates and compiles a label selector. `field` is the path used in error messages.
 * @throws PolicyError with code `InvalidSelector` or `InvalidLabel`.
 */
export function compileSelector(sel: LabelSelector | undefined | null, field: string): Selector {
  if (!sel) return EVERYTHING;
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    const ke = labelKeyError(k);
    if (ke) throw new PolicyError('InvalidLabel', `${field}.matchLabels`, ke);
    if (typeof v !== 'string')
      throw new PolicyError('InvalidLabel', `${field}.matchLabels.${k}`, 'value must be a string');
    const ve = labelValueError(v);
    if (ve) throw new PolicyError('InvalidLabel', `${field}.matchLabels.${k}`, ve);
    reqs.push({ op: 'In', key: k, values: [v] });
  }
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const ke = labelKeyError(e.key);
    if (ke) throw new PolicyError('InvalidLabel', `${f}.key`, ke);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
      case 'NotIn': {
        if (values.length === 0)
          throw new PolicyError(
            'InvalidSelector',
            `${f}.values`,
            `must be specified when operator is "${e.operator}"`,
          );
        values.forEach((v, j) => {
          const ve = labelValueError(v);
          if (ve) throw new PolicyError('InvalidLabel', `${f}.values[${j}]`, ve);
        });
        const sorted = [...new Set(values)].sort();
        reqs.push({ op: e.operator, key: e.key, values: sorted });
        break;
      }
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0)
          throw new PolicyError(
            'InvalidSelector',
            `${f}.values`,
            `may not be specified when operator is "${e.operator}"`,
          );
        reqs.push({ op: e.operator, key: e.key });
        break;
      default:
        throw new PolicyError(
          'InvalidSelector',
          `${f}.operator`,
          `"${e.operator}" is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)`,
        );
    }
  });
  reqs.sort((a, b) => cmp(a.key, b.key) || cmp(a.op, b.op) || cmp(reqText(a), reqText(b)));
  const key = reqs.length === 0 ? '{}' : reqs.map(reqText).join(',');
  return { requirements: reqs, key, matchesAll: reqs.length === 0 };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function reqText(r: Requirement): string {
  switch (r.op) {
    case 'In':
      return r.values.length === 1
        ? `${r.key}=${r.values[0]}`
        : `${r.key} in (${r.values.join(',')})`;
    case 'NotIn':
      return `${r.key} notin (${r.values.join(',')})`;
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
  }
}

/** True when `labels` satisfy every requirement of `sel`. */
export function selectorMatches(sel: Selector, labels: Labels): boolean {
  for (const r of sel.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'In':
        if (!has || !r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The label keys a selector reads (used to warn about keys excluded from identities). */
export function selectorKeys(sel: Selector): string[] {
  return [...new Set(sel.requirements.map((r) => r.key))];
}

/** A human-readable form, as kubectl prints selectors (`app=web,tier in (a,b)`), `<all>` when empty. */
export function formatSelector(sel: Selector): string {
  return sel.matchesAll ? '<all>' : sel.key;
}
