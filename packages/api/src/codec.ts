/**
 * Encoding and decoding of the distribution stream's frames.
 *
 * The operator sends pre-encoded bytes: each piece of a change (a subject's policy
 * entries, an identity's ipcache entries, …) is encoded once as a `StateChange`, and a
 * node's frame is a small header around the concatenation of the pieces it needs
 * (protobuf appends repeated fields of concatenated messages). Nothing is encoded per
 * node. The shim decodes frames itself (not inside gRPC), so a malformed frame is an
 * error it handles (by asking for a resync), never a crashed call.
 */
import protobuf from 'protobufjs';
import { WireError } from './errors.js';
import { LOADER_OPTIONS, PROTO_DIR, PROTO_FILES } from './protoFiles.js';
import type { StateChange } from './gen/palisade/v1/StateChange.js';
import type { OperatorMessage__Output } from './gen/palisade/v1/OperatorMessage.js';
import type { NodeMessage, NodeMessage__Output } from './gen/palisade/v1/NodeMessage.js';

let root: protobuf.Root | undefined;

/** The parsed .proto files (loaded once). */
export function protoRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) =>
      target.startsWith('/') ? target : `${PROTO_DIR}/${target}`;
    r.loadSync([...PROTO_FILES], { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return root;
}

function type(name: string): protobuf.Type {
  return protoRoot().lookupType(`palisade.v1.${name}`);
}

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: LOADER_OPTIONS.longs,
  enums: LOADER_OPTIONS.enums,
  defaults: LOADER_OPTIONS.defaults,
  oneofs: LOADER_OPTIONS.oneofs,
  arrays: true,
};

/**
 * Encodes a `StateChange` (enum fields as numbers: `encode` does not convert names).
 * The result can be concatenated with other encoded changes.
 */
export function encodeChange(change: StateChange): Uint8Array {
  return type('StateChange').encode(change).finish();
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0] as Uint8Array;
  return Buffer.concat(pieces);
}

/**
 * An OperatorMessage whose body (field `body`) is a Delta or a SnapshotChunk: both are
 * `epoch = 1, revision = 2, <a number> = 3, <a StateChange> = 4`, the change being the
 * concatenation of `pieces` (uint32 and uint64 share the varint encoding).
 */
function changeFrame(
  body: number,
  epoch: string,
  revision: number,
  third: number,
  pieces: readonly Uint8Array[],
): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((body << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(epoch);
  w.uint32(2 << 3).uint64(revision);
  w.uint32(3 << 3).uint64(third);
  w.uint32((4 << 3) | 2).bytes(concat(pieces));
  w.ldelim();
  return Buffer.from(w.finish());
}

/** Field 3 (`delta`) of OperatorMessage, around a Delta with the given change pieces. */
export function deltaFrame(
  epoch: string,
  revision: number,
  previousRevision: number,
  pieces: readonly Uint8Array[],
): Buffer {
  return changeFrame(3, epoch, revision, previousRevision, pieces);
}

/** Field 1 (`snapshot`) of OperatorMessage: one chunk of a snapshot. */
export function snapshotChunkFrame(
  epoch: string,
  revision: number,
  index: number,
  pieces: readonly Uint8Array[],
): Buffer {
  return changeFrame(1, epoch, revision, index, pieces);
}

/** Field 2 (`synced`) of OperatorMessage. */
export function syncedFrame(epoch: string, revision: number, chunks: number): Buffer {
  return Buffer.from(
    type('OperatorMessage').encode({ synced: { epoch, revision, chunks } }).finish(),
  );
}

/**
 * Decodes an operator frame. Throws WireError MALFORMED when the bytes are not an
 * OperatorMessage or carry none of its bodies.
 */
export function decodeOperatorMessage(bytes: Uint8Array): OperatorMessage__Output {
  let o: OperatorMessage__Output;
  try {
    const t = type('OperatorMessage');
    o = t.toObject(t.decode(bytes), TO_OBJECT);
  } catch (e) {
    throw new WireError('MALFORMED', `operator message: ${(e as Error).message}`, { cause: e });
  }
  if (!o.body) throw new WireError('MALFORMED', 'operator message: no body');
  return o;
}

/** Encodes a shim's message. */
export function encodeNodeMessage(m: NodeMessage): Buffer {
  const t = type('NodeMessage');
  return Buffer.from(t.encode(t.fromObject(m)).finish());
}

/** Decodes a shim's message. Throws WireError MALFORMED. */
export function decodeNodeMessage(bytes: Uint8Array): NodeMessage__Output {
  let o: NodeMessage__Output;
  try {
    const t = type('NodeMessage');
    o = t.toObject(t.decode(bytes), TO_OBJECT);
  } catch (e) {
    throw new WireError('MALFORMED', `node message: ${(e as Error).message}`, { cause: e });
  }
  if (!o.body) throw new WireError('MALFORMED', 'node message: no body');
  return o;
}
