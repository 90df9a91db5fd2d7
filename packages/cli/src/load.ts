/**
 * Reads Kubernetes objects from files and directories: YAML (multi-document) or JSON,
 * `kind: List` flattened, directories walked recursively for .yaml, .yml and .json.
 * Unreadable input is a CliError naming the file (and line, for YAML syntax errors).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CliError } from './errors.js';

/** An object and where it came from (`file.yaml#3` is the third document). */
export interface LoadedObject {
  readonly object: unknown;
  readonly source: string;
}

function filesUnder(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new CliError('UnreadableInput', `${path}: no such file or directory`, { cause: err });
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const p = join(path, name);
      return statSync(p).isDirectory() ? filesUnder(p) : /\.(ya?ml|json)$/.test(name) ? [p] : [];
    });
}

function flatten(obj: unknown, source: string): LoadedObject[] {
  if (obj === null || obj === undefined) return [];
  const o = obj as { kind?: unknown; items?: unknown };
  if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items))
    return o.items.flatMap((item, i) => flatten(item, `${source}.items[${i}]`));
  return [{ object: obj, source }];
}

/** Parses the text of one file. */
export function parseText(text: string, file: string): LoadedObject[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const out: LoadedObject[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line;
      throw new CliError(
        'UnreadableInput',
        `${file}${line ? `:${line}` : ''}: not valid YAML: ${err.message.split('\n')[0]}`,
      );
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (
      value !== null &&
      value !== undefined &&
      (typeof value !== 'object' || Array.isArray(value))
    )
      throw new CliError(
        'UnreadableInput',
        `${file}: document ${i + 1} is not a Kubernetes object`,
      );
    out.push(...flatten(value, list.length > 1 ? `${file}#${i + 1}` : file));
  });
  return out;
}

/** Loads every object from the given files and directories, in order. */
export function loadObjects(paths: readonly string[]): LoadedObject[] {
  return paths.flatMap((p) =>
    filesUnder(p).flatMap((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliError('UnreadableInput', `${file}: cannot read: ${(err as Error).message}`, {
          cause: err,
        });
      }
      return parseText(text, file);
    }),
  );
}
