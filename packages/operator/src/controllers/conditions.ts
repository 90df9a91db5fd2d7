/** Status conditions in the Kubernetes convention (metav1.Condition). */

/** One condition. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

/**
 * `conditions` with `next` set in place of the condition of the same type.
 * `lastTransitionTime` changes only when the status changes; `changed` says whether
 * anything differs (so callers skip writes that would change nothing).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): { conditions: Condition[]; changed: boolean } {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const old = i >= 0 ? list[i] : undefined;
  const merged: Condition = {
    ...next,
    lastTransitionTime:
      old && old.status === next.status
        ? old.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  const changed =
    !old ||
    old.status !== merged.status ||
    old.reason !== merged.reason ||
    old.message !== merged.message ||
    old.observedGeneration !== merged.observedGeneration;
  if (i >= 0) list[i] = merged;
  else list.push(merged);
  return { conditions: list, changed };
}
