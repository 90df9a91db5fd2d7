/**
 * A small, strict argument parser: `--flag value`, `--flag=value`, `-f value`, repeated
 * flags collect into lists, `--` ends flags. Unknown flags are usage errors.
 */
import { CliError } from './errors.js';

/** Declared flags: name → whether it takes a value and may repeat. */
export type FlagSpec = Record<
  string,
  { readonly value: boolean; readonly repeat?: boolean; readonly alias?: string }
>;

/** Parsed arguments. */
export interface Parsed {
  readonly positional: string[];
  readonly flags: Map<string, string[]>;
  /** Everything after `--`. */
  readonly rest: string[];
}

/** Parses `argv` against `spec`. */
export function parseArgs(argv: readonly string[], spec: FlagSpec): Parsed {
  const alias = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) if (s.alias) alias.set(s.alias, name);
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const raw = a.startsWith('--')
      ? a.slice(2, eq > 0 ? eq : undefined)
      : a.slice(1, eq > 0 ? eq : undefined);
    const name = a.startsWith('--') ? raw : (alias.get(raw) ?? raw);
    const s = spec[name];
    if (!s) throw new CliError('Usage', `unknown flag ${a}`);
    let value = 'true';
    if (s.value) {
      if (eq > 0) value = a.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new CliError('Usage', `flag ${a} needs a value`);
        value = next;
        i++;
      }
    }
    const list = flags.get(name) ?? [];
    if (list.length > 0 && !s.repeat) throw new CliError('Usage', `flag --${name} given twice`);
    list.push(value);
    flags.set(name, list);
  }
  return { positional, flags, rest };
}

/** The single value of a flag, or the default. */
export function flag(p: Parsed, name: string, dflt?: string): string | undefined {
  return p.flags.get(name)?.[0] ?? dflt;
}
