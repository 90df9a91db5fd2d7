/**
 * Keys of the operator's work queue: `<kind>:<object key>`. One queue holds every kind, so
 * the compiler is fed by one reconcile loop and every key is processed one at a time.
 */

/** The kinds of queue keys. */
export type KeyKind = 'ns' | 'pod' | 'node' | 'np' | 'pnp' | 'pcnp';

/** A queue key. */
export function queueKey(kind: KeyKind, objectKey: string): string {
  return `${kind}:${objectKey}`;
}

/** Splits a queue key. */
export function parseQueueKey(key: string): { kind: KeyKind; objectKey: string } {
  const i = key.indexOf(':');
  return { kind: key.slice(0, i) as KeyKind, objectKey: key.slice(i + 1) };
}
