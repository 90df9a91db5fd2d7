/**
 * Where the programs attach on an endpoint's host device: tcx (Linux >= 6.6: the device's
 * own BPF hook, no qdisc classifier chain in the way) or a filter of the clsact qdisc
 * (cls_bpf, any kernel the datapath supports). `auto` takes tcx when the kernel has it.
 *
 * Invariants: attaching puts our program at the chosen hook first (replacing ours there
 * atomically) and only then removes ours from the other hook, so a device moving between
 * hooks — a shim upgraded from tc filters to tcx — is never without a program; while both
 * run, a packet is checked twice against the same maps, which changes no verdict. Nothing
 * here touches programs that are not ours.
 */
import { addon, errnoOf } from '../native/addon.js';
import { ShimError } from '../errors.js';

/** A hook the programs attach to. */
export type AttachHook = 'tcx' | 'tc';
/** The hook to use, or `auto` (tcx when the kernel has it, else tc). */
export type HookChoice = AttachHook | 'auto';

/** tc filter priority the shim owns on every endpoint device. */
export const TC_PRIORITY = 1;
/** tc filter handle. */
export const TC_HANDLE = 1;

/** Our programs' file descriptors. */
export interface ProgramFds {
  readonly fromPod: number;
  readonly toPod: number;
}

/** Each hook point with the program that runs there and its name in the object. */
const POINTS = [
  { point: 'ingress', prog: 'fromPod', name: 'from_pod' },
  { point: 'egress', prog: 'toPod', name: 'to_pod' },
] as const;

let tcxKnown: boolean | undefined;

/** Whether the kernel has tcx (asked once). */
export function kernelHasTcx(): boolean {
  return (tcxKnown ??= addon().tcxQuery(1, 'ingress', 'from_pod') >= 0);
}

/** The hook a choice resolves to on this kernel. */
export function resolveHook(choice: HookChoice): AttachHook {
  if (choice !== 'auto') return choice;
  return kernelHasTcx() ? 'tcx' : 'tc';
}

/** Attaches (or atomically replaces) the programs on a device at `hook`; see the invariants. */
export function attachPrograms(ifindex: number, progs: ProgramFds, hook: AttachHook): void {
  const a = addon();
  for (const { point, prog, name } of POINTS) {
    try {
      if (hook === 'tcx') {
        a.tcxAttach(ifindex, point, name, progs[prog]);
        a.tcDetach(ifindex, point, TC_PRIORITY, TC_HANDLE);
      } else {
        a.tcAttach(ifindex, point, TC_PRIORITY, TC_HANDLE, progs[prog]);
        a.tcxDetach(ifindex, point, name);
      }
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'EOPNOTSUPP' || code === 'ENOTSUPP' || (hook === 'tcx' && code === 'EINVAL'))
        throw new ShimError(
          'KERNEL_FEATURE',
          hook === 'tcx'
            ? `the kernel cannot attach tcx programs (Linux >= 6.6); use --hook tc: ${(e as Error).message}`
            : `the kernel cannot attach tc programs (clsact qdisc, CONFIG_NET_SCH_INGRESS and CONFIG_NET_CLS_BPF): ${(e as Error).message}`,
          { cause: e },
        );
      throw new ShimError(
        'KERNEL',
        `attaching to ifindex ${ifindex} (${hook} ${point}): ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
}

/** Removes our programs from a device, at both hooks. */
export function detachPrograms(ifindex: number): void {
  const a = addon();
  for (const { point, name } of POINTS) {
    a.tcxDetach(ifindex, point, name);
    a.tcDetach(ifindex, point, TC_PRIORITY, TC_HANDLE);
  }
}

/** The ids of our programs on a device (0 when none) and the hook they are at. */
export function attachedPrograms(ifindex: number): {
  ingress: number;
  egress: number;
  hook?: AttachHook;
} {
  const a = addon();
  const tcx = {
    ingress: Math.max(0, a.tcxQuery(ifindex, 'ingress', 'from_pod')),
    egress: Math.max(0, a.tcxQuery(ifindex, 'egress', 'to_pod')),
  };
  if (tcx.ingress || tcx.egress) return { ...tcx, hook: 'tcx' };
  const tc = {
    ingress: a.tcQuery(ifindex, 'ingress', TC_PRIORITY, TC_HANDLE),
    egress: a.tcQuery(ifindex, 'egress', TC_PRIORITY, TC_HANDLE),
  };
  return tc.ingress || tc.egress ? { ...tc, hook: 'tc' } : tc;
}
