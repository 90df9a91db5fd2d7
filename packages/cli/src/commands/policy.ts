/**
 * `palisade policy simulate` and `palisade policy explain`.
 */
import { parsePortArg } from '@palisade/core';
import { flag, parseArgs, type FlagSpec } from '../args.js';
import { CliError } from '../errors.js';
import { explainFlow } from '../explain.js';
import { loadObjects } from '../load.js';
import { renderJson, renderTable } from '../render.js';
import { Simulation, type ProbePort } from '../simulation.js';
import type { Io } from './io.js';

const SPEC: FlagSpec = {
  filename: { value: true, repeat: true, alias: 'f' },
  port: { value: true, repeat: true },
  output: { value: true, alias: 'o' },
  from: { value: true },
  to: { value: true },
  help: { value: false, alias: 'h' },
};

export const POLICY_USAGE = `Usage:
  palisade policy simulate -f <file|dir>... [--port 80/TCP]... [-o json|table]
      Every ordered pair of distinct pods, for every port: allowed or denied.
      Without --port: every declared container port (or 80/TCP).
  palisade policy explain -f <file|dir>... --from <ns/pod> --to <ns/pod> --port <port/PROTO> [-o json|text]
      The verdict for one flow and which policy and rule decided it, per direction.

Input: Namespaces, Pods (labels, status.podIP, container ports) and NetworkPolicy,
PalisadeNetworkPolicy, PalisadeClusterNetworkPolicy objects, in YAML or JSON files
(multi-document) or directories. Exit status: 0 when every object was valid, 1 when some
were refused (they are reported on stderr and left out), 2 on usage errors or unreadable input.
`;

function ports(values: readonly string[]): ProbePort[] {
  return values.map((v) => {
    const p = parsePortArg(v);
    if (!p || p.protocol === 'ANY')
      throw new CliError(
        'Usage',
        `--port ${v}: expected <port>/<TCP|UDP|SCTP|ICMP|ICMPv6>, e.g. 80/TCP`,
      );
    return { port: p.port, protocol: p.protocol };
  });
}

function load(io: Io, files: readonly string[]): Simulation {
  if (files.length === 0) throw new CliError('Usage', 'no input: give -f <file|dir>');
  const sim = new Simulation(loadObjects(files));
  for (const w of sim.warnings) io.err(`warning: ${w.source}: ${w.message}`);
  for (const e of sim.errors) io.err(`error: ${e.source}: ${e.message}`);
  if (sim.errors.length > 0)
    io.err(`${sim.errors.length} object(s) refused and left out of the simulation`);
  return sim;
}

/** Runs `policy <sub> …`; returns the exit status. */
export function policyCommand(io: Io, argv: readonly string[]): number {
  const [sub, ...rest] = argv;
  const args = parseArgs(rest, SPEC);
  if (!sub || args.flags.has('help')) {
    io.out(POLICY_USAGE);
    return sub ? 0 : 2;
  }
  const files = args.flags.get('filename') ?? [];
  switch (sub) {
    case 'simulate': {
      const output = flag(args, 'output', 'table');
      if (output !== 'json' && output !== 'table')
        throw new CliError('Usage', `-o ${output}: expected json or table`);
      const sim = load(io, files);
      const probe = args.flags.has('port')
        ? ports(args.flags.get('port') ?? [])
        : sim.defaultPorts();
      const results = sim.simulate(probe);
      io.out(
        output === 'json'
          ? renderJson(results)
          : renderTable(
              results,
              sim.pods.map((p) => p.key),
            ),
      );
      return sim.errors.length > 0 ? 1 : 0;
    }
    case 'explain': {
      const output = flag(args, 'output', 'text');
      if (output !== 'json' && output !== 'text')
        throw new CliError('Usage', `-o ${output}: expected json or text`);
      const fromKey = flag(args, 'from');
      const toKey = flag(args, 'to');
      const portArgs = args.flags.get('port') ?? [];
      if (!fromKey || !toKey || portArgs.length !== 1)
        throw new CliError(
          'Usage',
          'explain needs --from <ns/pod>, --to <ns/pod> and one --port <port/PROTO>',
        );
      const sim = load(io, files);
      const from = sim.pod(fromKey);
      const to = sim.pod(toKey);
      if (!from) throw new CliError('Usage', `--from ${fromKey}: no such pod in the input`);
      if (!to) throw new CliError('Usage', `--to ${toKey}: no such pod in the input`);
      const [probe] = ports(portArgs) as [ProbePort];
      const ex = explainFlow(sim, from, to, probe);
      if (!ex)
        throw new CliError(
          'Usage',
          `${toKey} has no address of ${fromKey}'s family, or no port ${String(probe.port)}/${probe.protocol}`,
        );
      if (output === 'json') io.out(`${JSON.stringify(ex, null, 2)}\n`);
      else {
        io.out(
          `${ex.from} → ${ex.to} ${String(ex.port)}/${ex.protocol}: ${ex.verdict.toUpperCase()}\n`,
        );
        for (const s of ex.sides) io.out(`  ${s.text}\n`);
      }
      return sim.errors.length > 0 ? 1 : 0;
    }
    default:
      throw new CliError('Usage', `unknown command "policy ${sub}"\n\n${POLICY_USAGE}`);
  }
}
