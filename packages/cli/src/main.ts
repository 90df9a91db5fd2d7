#!/usr/bin/env node
/**
 * The `palisade` command. Wiring only: parses the first word and dispatches.
 */
import { CliError } from './errors.js';
import { genCommand } from './commands/gen.js';
import type { Io } from './commands/io.js';
import { labCommand } from './commands/lab.js';
import { nodeCommand } from './commands/node.js';
import { policyCommand, POLICY_USAGE } from './commands/policy.js';

const USAGE = `palisade — identity-based network security for Kubernetes

Commands:
  policy simulate   what would these policies allow? (offline)
  policy explain    which policy and rule decides one flow (offline)
  node flows        recent flows the datapath on this node allowed or dropped, and why
  node status       the shim on this node: maps, counters, last error
  lab up|status|probe|exec|down   a real cluster on this machine (etcd, kube-apiserver, operator, eBPF nodes)
  gen crds          regenerate crds/ from the schemas

${POLICY_USAGE}`;

/** Runs the CLI and returns its exit status (a promise for commands that talk to a daemon). */
export function run(argv: readonly string[], io: Io): number | Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'policy':
        return policyCommand(io, rest);
      case 'lab':
        return labCommand(io, rest).catch((err: unknown) => fail(err, io));
      case 'node':
        return nodeCommand(io, rest).catch((err: unknown) => fail(err, io));
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
    return fail(err, io);
  }
}

/** Reports a CliError (usage: 2; a daemon out of reach: 1); anything else is a bug and propagates. */
function fail(err: unknown, io: Io): number {
  if (err instanceof CliError) {
    io.err(`palisade: ${err.message}`);
    return err.code === 'Unreachable' ? 1 : 2;
  }
  throw err;
}

const io: Io = {
  out: (t) => process.stdout.write(t),
  err: (l) => process.stderr.write(`${l}\n`),
};

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/palisade')) {
  void Promise.resolve(run(process.argv.slice(2), io)).then((code) => {
    process.exitCode = code;
  });
}
