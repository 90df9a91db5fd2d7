/**
 * Test helpers for the distribution client: small compiled deltas, the operator's frames
 * built from them with @palisade/api's frame builders, and a recorder standing in for the
 * kernel and the stream.
 */
import {
  applyDelta,
  canonicalState,
  emptyState,
  type CompiledDelta,
  type CompiledState,
} from '@palisade/core';
import {
  emptyDelta,
  encodeChange,
  snapshotChunkFrame,
  syncedFrame,
  toWireChange,
  type NodeMessage,
} from '@palisade/api';

/** A delta with the given parts (the others empty). */
export function delta(parts: Partial<CompiledDelta>): CompiledDelta {
  return { ...emptyDelta(), ...parts };
}

/** One encoded piece of a change. */
export function piece(d: CompiledDelta): Uint8Array {
  return encodeChange(toWireChange(d));
}

/** Identity `id` for pod `x/<name>` at `ip`, isolated for ingress. */
export function podDelta(id: number, name: string, ip: string): CompiledDelta {
  return delta({
    identities: { upsert: [{ id, labels: [`k8s:app=${name}`] }], remove: [] },
    ipcache: { upsert: [{ prefix: `${ip}/32`, identity: id }], remove: [] },
    endpoints: { upsert: [{ pod: `x/${name}`, identity: id, ips: [ip] }], remove: [] },
    isolation: { upsert: [{ identity: id, ingress: true, egress: false }], remove: [] },
  });
}

/** `subject` admits `remote` on TCP `port`. */
export function allowDelta(subject: number, remote: number, port: number): CompiledDelta {
  return delta({
    policy: {
      upsert: [
        {
          key: { subject, direction: 'ingress', remote, protocol: 6, port, prefixLen: 16 },
          value: { verdict: 'allow', rules: [`NetworkPolicy/x/p${subject}:spec.ingress[0]`] },
        },
      ],
      remove: [],
    },
  });
}

/** The state that applying these deltas to an empty one gives. */
export function stateOf(...deltas: CompiledDelta[]): CompiledState {
  const s = emptyState();
  for (const d of deltas) applyDelta(s, d);
  return s;
}

/** A whole snapshot: one chunk per delta, then `Synced`. */
export function snapshotFrames(epoch: string, revision: number, chunks: CompiledDelta[]): Buffer[] {
  return [
    ...chunks.map((d, i) => snapshotChunkFrame(epoch, revision, i, [piece(d)])),
    syncedFrame(epoch, revision, chunks.length),
  ];
}

/** Records what a policy stream applies and sends; `failNext` makes applies throw. */
export class Recorder {
  /** `canonicalState` of each applied state, in order. */
  readonly applied: string[] = [];
  /** Messages sent, in order (cleared by `take`). */
  readonly sent: NodeMessage[] = [];
  /** Number of coming applies that throw. */
  failNext = 0;

  /** The `apply` of a policy stream. */
  readonly apply = (s: CompiledState): void => {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('map full (test)');
    }
    this.applied.push(canonicalState(s));
  };

  /** The `send` given to `open`. */
  readonly send = (m: NodeMessage): void => {
    this.sent.push(m);
  };

  /** The bodies sent so far, as `ack:R`, `resync`, `hello:E/R`; then forgets them. */
  take(): string[] {
    const out = this.sent.map((m) =>
      m.ack
        ? `ack:${String(m.ack.revision)}`
        : m.hello
          ? `hello:${m.hello.epoch ?? ''}/${String(m.hello.revision ?? 0)}`
          : 'resync',
    );
    this.sent.length = 0;
    return out;
  }
}
