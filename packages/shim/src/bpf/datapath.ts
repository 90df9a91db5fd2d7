/**
 * Loading the datapath: the eBPF object, its maps pinned under
 * `<bpffs>/palisade/<node>/`, and the tc programs on each endpoint's host veth.
 *
 * Invariant: nothing here ever detaches a program or unpins a map on its own. When the
 * shim exits, the programs stay attached and the maps pinned, so the kernel keeps
 * enforcing; the next shim loads the programs again, reuses the pinned maps and replaces
 * each attached program atomically (tcx or tc replace, `hooks.ts`), with no moment without
 * a program.
 */
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { addon, BPF_OBJECT_PATH, errnoOf, type ObjectHandle } from '../native/addon.js';
import {
  attachedPrograms,
  attachPrograms,
  detachPrograms,
  resolveHook,
  type AttachHook,
  type HookChoice,
  type ProgramFds,
} from './hooks.js';
import { ShimError } from '../errors.js';
import { KernelMap } from './maps.js';
import {
  configValue,
  endpointKey,
  endpointValue,
  ipcacheKey,
  ipcacheValue,
  policyKey,
  policyValue,
  ctKey,
  ctValue,
} from './layouts.js';

/** The maps whose sizes can be configured. */
export type SizedMap = 'pal_ipcache' | 'pal_policy' | 'pal_endpoints' | 'pal_conntrack';

/** Default capacities (entries). */
export const DEFAULT_CAPACITY: Readonly<Record<SizedMap, number>> = {
  pal_ipcache: 524288,
  pal_policy: 262144,
  pal_endpoints: 4096,
  pal_conntrack: 131072,
};

/** Options of `Datapath.open`. */
export interface DatapathOptions {
  /** The node name: pins go to `<bpffs>/palisade/<node>/`. */
  readonly node: string;
  /** Where bpffs is mounted. Default `/sys/fs/bpf`. */
  readonly bpffs?: string;
  /** The eBPF object. Default: the one built into dist/. */
  readonly objectPath?: string;
  /** Map capacities; must match maps already pinned from an earlier run. */
  readonly capacity?: Partial<Record<SizedMap, number>>;
  /** Where programs attach on each endpoint device (default `auto`: tcx when the kernel has it). */
  readonly hook?: HookChoice;
}

const BPF_FS_MAGIC = 0xcafe4a11;

/** The loaded datapath of one node. */
export class Datapath {
  private constructor(
    private obj: ObjectHandle | undefined,
    readonly pinDir: string,
    readonly ipcache: KernelMap,
    readonly policy: KernelMap,
    readonly endpoints: KernelMap,
    readonly conntrack: KernelMap,
    readonly config: KernelMap,
    readonly counters: KernelMap,
    readonly eventsFd: number,
    private readonly progs: ProgramFds,
    /** Where this datapath attaches programs. */
    readonly hook: AttachHook,
  ) {}

  /** Loads the object, pinning or reusing the node's maps. */
  static open(o: DatapathOptions): Datapath {
    const bpffs = o.bpffs ?? '/sys/fs/bpf';
    checkBpffs(bpffs);
    if (!/^[a-zA-Z0-9][-a-zA-Z0-9_.]*$/.test(o.node))
      throw new ShimError(
        'INVALID_REQUEST',
        `node name ${JSON.stringify(o.node)} is not usable in a path`,
      );
    const pinDir = join(bpffs, 'palisade', o.node);
    mkdirSync(pinDir, { recursive: true });
    const capacity = { ...DEFAULT_CAPACITY, ...o.capacity };
    checkPinnedShapes(pinDir, capacity);
    const a = addon();
    let obj: ObjectHandle;
    try {
      obj = a.openObject(o.objectPath ?? BPF_OBJECT_PATH, pinDir, capacity);
    } catch (e) {
      throw loadError(e);
    }
    const map = (name: string, ks: number, vs: number): KernelMap => {
      const fd = a.objectMapFd(obj, name);
      const info = a.mapInfo(fd);
      if (info.keySize !== ks || info.valueSize !== vs)
        throw new ShimError(
          'MAP_MISMATCH',
          `map ${name} has key/value sizes ${info.keySize}/${info.valueSize}, the shim expects ${ks}/${vs}`,
        );
      return new KernelMap(name, fd, ks, vs, info.maxEntries);
    };
    return new Datapath(
      obj,
      pinDir,
      map('pal_ipcache', ipcacheKey.size, ipcacheValue.size),
      map('pal_policy', policyKey.size, policyValue.size),
      map('pal_endpoints', endpointKey.size, endpointValue.size),
      map('pal_conntrack', ctKey.size, ctValue.size),
      map('pal_config', 4, configValue.size),
      map('pal_counters', 4, 8),
      a.objectMapFd(obj, 'pal_events'),
      { fromPod: a.objectProgFd(obj, 'from_pod'), toPod: a.objectProgFd(obj, 'to_pod') },
      resolveHook(o.hook ?? 'auto'),
    );
  }

  /** Attaches (or atomically replaces) the programs on an endpoint's host-side device. */
  attach(ifindex: number): void {
    attachPrograms(ifindex, this.progs, this.hook);
  }

  /** Removes the programs from a device (used when an endpoint goes away but its device stays). */
  detach(ifindex: number): void {
    detachPrograms(ifindex);
  }

  /** The program ids attached to a device (0 when none). */
  attached(ifindex: number): { ingress: number; egress: number } {
    const { ingress, egress } = attachedPrograms(ifindex);
    return { ingress, egress };
  }

  /** Ids of the programs this load created. */
  programIds(): { fromPod: number; toPod: number } {
    const a = addon();
    return { fromPod: a.progId(this.progs.fromPod), toPod: a.progId(this.progs.toPod) };
  }

  /** Closes the shim's handles. Programs stay attached and maps stay pinned. */
  close(): void {
    if (this.obj) addon().closeObject(this.obj);
    this.obj = undefined;
  }
}

/** Throws BPFFS_MISSING unless `path` is a mounted bpffs. */
export function checkBpffs(path: string): void {
  let type: number;
  try {
    type = statfsSync(path).type;
  } catch (e) {
    throw new ShimError(
      'BPFFS_MISSING',
      `bpffs is not available at ${path} (${(e as Error).message}); mount it: mount -t bpf bpf ${path}`,
      { cause: e },
    );
  }
  if (type !== BPF_FS_MAGIC)
    throw new ShimError(
      'BPFFS_MISSING',
      `${path} is not a bpffs mount (filesystem type 0x${type.toString(16)}); mount it: mount -t bpf bpf ${path}` +
        ' (under `ip netns exec`, which remounts /sys, point --bpffs at a bpffs mounted outside /sys)',
    );
}

/** Gives a clear error when maps pinned by an earlier run have another capacity. */
function checkPinnedShapes(pinDir: string, capacity: Record<SizedMap, number>): void {
  const a = addon();
  for (const [name, want] of Object.entries(capacity)) {
    let fd: number;
    try {
      fd = a.objGet(join(pinDir, name));
    } catch {
      continue; // not pinned yet
    }
    try {
      const info = a.mapInfo(fd);
      if (info.maxEntries !== want)
        throw new ShimError(
          'MAP_MISMATCH',
          `pinned map ${join(pinDir, name)} holds ${info.maxEntries} entries, the shim is configured for ${want}; ` +
            `keep the old size, or remove ${pinDir} to start over (enforcement on this node restarts from empty)`,
        );
    } finally {
      a.closeFd(fd);
    }
  }
}

/** Turns a failed object load into an error that names what is missing. */
function loadError(e: unknown): ShimError {
  const msg = (e as Error).message ?? String(e);
  const code = errnoOf(e);
  if (code === 'EPERM' || code === 'EACCES')
    return new ShimError(
      'KERNEL_FEATURE',
      `the kernel refused to load the datapath: the shim needs root (CAP_BPF, CAP_NET_ADMIN): ${msg}`,
      { cause: e },
    );
  if (code === 'ENOENT' && /open BPF object/.test(msg))
    return new ShimError(
      'NATIVE_MISSING',
      `the eBPF object is missing: ${msg}; run \`pnpm build\``,
      {
        cause: e,
      },
    );
  const feature = /map type|BPF_MAP_TYPE_[A-Z_]+|ringbuf|lpm|unknown func|btf|BTF/i.exec(msg)?.[0];
  return new ShimError(
    'KERNEL_FEATURE',
    `the kernel refused to load the datapath${feature ? ` (missing or refused: ${feature})` : ''}; it needs eBPF with BTF, LPM tries, LRU hashes, ring buffers (Linux >= 5.8) and tc clsact: ${msg}`,
    { cause: e },
  );
}
