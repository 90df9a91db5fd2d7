/**
 * `palisade lab …`: the lab cluster. Not built yet (issue: the lab cluster, the demo, and
 * the end-to-end suite); the command says so instead of pretending.
 */
import { CliError } from '../errors.js';
import type { Io } from './io.js';

/** Runs `lab …`. */
export function labCommand(_io: Io, _argv: readonly string[]): number {
  throw new CliError(
    'NotAvailable',
    'lab not available yet: the lab cluster lands with the lab issue; `palisade policy simulate` works offline today',
  );
}
