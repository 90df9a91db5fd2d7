/**
 * ListIdentities: the identities of the compiled state that carry every label of a filter.
 *
 * A filter entry `source:key=value` (`k8s:app=web`, `ns:team=a`, `reserved:world`) must be
 * one of the identity's labels; an entry `source:key` without `=` matches any value of
 * that key (`k8s:app` matches `k8s:app=web` and `k8s:app=db`).
 */
import type { CompiledState, IdentityInfo } from '@palisade/core';
import type { Identity } from '@palisade/api';
import { IntegrationsError } from './integrationsError.js';

/** A parsed label filter: a predicate over an identity's labels. */
export type LabelFilter = (labels: readonly string[]) => boolean;

/** Parses `label_filter`; throws IntegrationsError INVALID_ARGUMENT naming a bad entry. */
export function parseLabelFilter(entries: readonly string[]): LabelFilter {
  const exact: string[] = [];
  const keys: string[] = [];
  entries.forEach((e, i) => {
    if (!/^[^:=\s]+:[^=\s]+(=\S*)?$/.test(e))
      throw new IntegrationsError(
        'INVALID_ARGUMENT',
        `label_filter[${i}]: ${JSON.stringify(e)} is not source:key or source:key=value (e.g. k8s:app=web)`,
      );
    if (e.includes('=')) exact.push(e);
    else keys.push(`${e}=`);
  });
  return (labels) =>
    exact.every((e) => labels.includes(e)) &&
    keys.every((k) => labels.some((l) => l.startsWith(k) || l === k.slice(0, -1)));
}

/** An identity on the wire. */
export function toWireIdentity(i: IdentityInfo): Identity {
  return { id: i.id, labels: [...i.labels] };
}

/** The identities of `state` that pass `filter`, by number. */
export function listIdentities(state: CompiledState, filter: LabelFilter): Identity[] {
  return [...state.identities.values()]
    .filter((i) => filter(i.labels))
    .sort((a, b) => a.id - b.id)
    .map(toWireIdentity);
}
