/**
 * `palisade lab …`: the lab cluster. The lab is a development and test tool that lives with
 * the end-to-end suites in `e2e/` (it starts etcd, kube-apiserver, the operator, node
 * namespaces and shims); this command forwards to it, so the CLI package does not depend on
 * the test harness (decision 20 in docs/decisions.md).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError } from '../errors.js';
import type { Io } from './io.js';

/** Where the lab's command module is built (this repository's e2e package). */
const LAB_COMMAND = new URL('../../../../e2e/dist/lab/command.js', import.meta.url);

interface LabModule {
  labMain(argv: readonly string[], io: Io): Promise<number>;
}

/** Runs `lab …`; resolves with the exit status. */
export async function labCommand(io: Io, argv: readonly string[]): Promise<number> {
  if (!existsSync(fileURLToPath(LAB_COMMAND)))
    throw new CliError(
      'NotAvailable',
      `the lab is not built (${fileURLToPath(LAB_COMMAND)} is missing): run \`bash scripts/setup.sh\` from the repository root`,
    );
  const mod = (await import(LAB_COMMAND.href)) as LabModule;
  return mod.labMain(argv, io);
}
