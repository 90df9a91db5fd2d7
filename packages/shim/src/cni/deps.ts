/**
 * What the CNI commands need from the outside world, injected so they can be tested
 * without root: kernel access, the shim, and a diagnostic log (stderr in `main.ts`).
 */
import type { ShimApi } from './shimClient.js';
import type { LinkDeps } from './veth.js';

/** The dependencies of ADD, DEL and CHECK. */
export interface CniDeps {
  /** `ip` and sysctl access in the node's netns. */
  readonly link: LinkDeps;
  /** The shim's endpoint API at a socket path. */
  readonly shim: (socketPath: string) => ShimApi;
  /** Writes one diagnostic line (never to stdout, which carries the result). */
  readonly log: (line: string) => void;
}
