/**
 * The typed face of the native addon (`native/palisade_bpf.c`): kernel access through
 * libbpf, one synchronous call per operation, batches in one Buffer.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ShimError } from '../errors.js';

/** An opaque handle to a loaded BPF object. */
export type ObjectHandle = { readonly __brand: 'ObjectHandle' };
/** An opaque handle to a ring buffer reader. */
export type RingbufHandle = { readonly __brand: 'RingbufHandle' };

/** What the kernel says about a map. */
export interface MapInfo {
  readonly id: number;
  readonly type: number;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
}

/** A struct as the object's BTF describes it (offsets and sizes in bytes). */
export interface BtfStruct {
  readonly size: number;
  readonly members: readonly { name: string; offset: number; size: number }[];
}

/** The functions the addon exports. Errors are thrown with `code` = errno name. */
export interface Addon {
  libbpfVersion(): string;
  openObject(path: string, pinRoot: string, maxEntries: Record<string, number>): ObjectHandle;
  closeObject(h: ObjectHandle): void;
  objectMapFd(h: ObjectHandle, name: string): number;
  objectProgFd(h: ObjectHandle, name: string): number;
  objGet(path: string): number;
  closeFd(fd: number): void;
  mapInfo(fd: number): MapInfo;
  progId(fd: number): number;
  numPossibleCpus(): number;
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, keys: Buffer, values: Buffer, count: number, flags: number): number;
  mapDelete(fd: number, keys: Buffer, count: number): number;
  mapDump(
    fd: number,
    keySize: number,
    valueSize: number,
  ): { keys: Buffer; values: Buffer; count: number };
  /**
   * Reads a map's entries into `keys` and `values` (packed, as many as fit) and returns how
   * many entries the map holds; when that is more than fit, grow the buffers and call again.
   */
  mapDumpInto(fd: number, keys: Buffer, values: Buffer, keySize: number, valueSize: number): number;
  tcAttach(
    ifindex: number,
    point: 'ingress' | 'egress',
    priority: number,
    handle: number,
    progFd: number,
  ): number;
  tcDetach(ifindex: number, point: 'ingress' | 'egress', priority: number, handle: number): void;
  tcQuery(ifindex: number, point: 'ingress' | 'egress', priority: number, handle: number): number;
  /**
   * Attaches a program at a device's tcx hook (Linux >= 6.6), atomically replacing the
   * program of the same name there. Returns its id; throws EINVAL when the kernel has no tcx.
   */
  tcxAttach(ifindex: number, point: 'ingress' | 'egress', name: string, progFd: number): number;
  /** Removes the program of that name from a tcx hook (none there, or no tcx, is fine). */
  tcxDetach(ifindex: number, point: 'ingress' | 'egress', name: string): void;
  /** Id of the program of that name at a tcx hook; 0 when none, -1 when the kernel has no tcx. */
  tcxQuery(ifindex: number, point: 'ingress' | 'egress', name: string): number;
  ringbufOpen(mapFd: number): RingbufHandle;
  ringbufConsume(h: RingbufHandle, max: number): Buffer[];
  ringbufClose(h: RingbufHandle): void;
  btfStruct(objPath: string, name: string): BtfStruct | null;
  ifindex(name: string): number;
  /**
   * Fixes glibc's mmap and trim thresholds (bytes), which it otherwise raises to the largest
   * block freed so far, keeping later large blocks resident after they are freed.
   */
  mallocTune(mmapThreshold: number, trimThreshold: number): void;
  /** Gives free malloc heap pages back to the kernel (`malloc_trim(0)`); true when any were. */
  mallocTrim(): boolean;
}

/** Path of the built addon. */
export const ADDON_PATH = fileURLToPath(new URL('./palisade_bpf.node', import.meta.url));
/** Path of the built eBPF object. */
export const BPF_OBJECT_PATH = fileURLToPath(new URL('../bpf/palisade.bpf.o', import.meta.url));

let loaded: Addon | undefined;

/** Loads the addon once. Throws `NATIVE_MISSING` when it was not built. */
export function addon(): Addon {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH))
    throw new ShimError(
      'NATIVE_MISSING',
      `the native addon is not built (${ADDON_PATH}); run \`pnpm build\` (it needs clang, gcc and libbpf-dev)`,
    );
  loaded = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  return loaded;
}

/** The errno name of an error thrown by the addon (`ENOENT`…), if it is one. */
export function errnoOf(e: unknown): string | undefined {
  const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
