/**
 * A compiled snapshot read from a JSON file (`CompiledSnapshot`): exactly what the operator
 * will send a node, so the shim runs no compiler. A file that cannot be read or parsed is
 * an error and the state in force stays.
 */
import { readFileSync } from 'node:fs';
import { fromSnapshot, type CompiledState } from '@palisade/core';
import { ShimError } from '../errors.js';

/** Reads a compiled snapshot file. Throws SOURCE with the file named. */
export function readSnapshot(path: string): CompiledState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ShimError(
      'SOURCE',
      `cannot read compiled snapshot ${path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  try {
    return fromSnapshot(JSON.parse(text));
  } catch (e) {
    throw new ShimError('SOURCE', `${path}: not a compiled snapshot: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
