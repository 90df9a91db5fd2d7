#!/usr/bin/env node
/**
 * The `palisade` command. Wiring only: parses the first word and dispatches.
 */
import { CliError } from './errors.js';
import { genCommand } from './commands/gen.js';
import type { Io } from './commands/io.js';
import { labCommand } from './commands/lab.js';
import { policyCommand, POLICY_USAGE } from './commands/policy.js';

const USAGE = `palisade — identity-based network security for Kubernetes

Commands:
  policy simulate   what would these policies allow? (offline)
  policy explain    which policy and rule decides one flow (offline)
  lab up|down|status|exec|probe   a real cluster on this machine (not available yet)
  gen crds          regenerate crds/ from the schemas

${POLICY_USAGE}`;

/** Runs the CLI and returns its exit status. */
export function run(argv: readonly string[], io: Io): number {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'policy':
        return policyCommand(io, rest);
      case 'lab':
        return labCommand(io, rest);
      case 'gen':
        return genCommand(io, rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new CliError('Usage', `unknown command "${cmd}"; run \`palisade help\``);
    }
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`palisade: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

const io: Io = {
  out: (t) => process.stdout.write(t),
  err: (l) => process.stderr.write(`${l}\n`),
};

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/palisade')) {
  process.exitCode = run(process.argv.slice(2), io);
}
