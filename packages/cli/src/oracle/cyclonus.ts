/**
 * Independent oracle for the differential test: runs cyclonus
 * (github.com/mattfenwick/cyclonus v0.5.6, installed by `scripts/install-cyclonus.sh`) in its
 * offline "synthetic probe" mode over the shared policy model (docs/policy-fixtures.md) and
 * returns its truth tables.
 *
 * Command: `cyclonus analyze --mode probe --simplify-policies=false
 *           --policy-path <dir of policy YAML> --probe-path <probe JSON>`.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A protocol cyclonus can probe. */
export type ProbeProtocol = 'TCP' | 'UDP' | 'SCTP';

/** One port/protocol to probe; the port must be one the model's pods serve (80 or 81). */
export interface ProbePort {
  port: number;
  protocol: ProbeProtocol;
}

/** One cell of cyclonus's combined (ingress and egress) truth table. */
export type OracleResult = {
  /** Source pod, `ns/pod`. */
  from: string;
  /** Destination pod, `ns/pod`. */
  to: string;
  port: number;
  protocol: string;
  verdict: 'allow' | 'deny';
};

const NAMESPACES = ['x', 'y', 'z'] as const;
const POD_NAMES = ['a', 'b', 'c'] as const;
const MODEL_PORTS = [80, 81] as const;
const MODEL_PROTOCOLS: readonly ProbeProtocol[] = ['TCP', 'UDP', 'SCTP'];
const TIMEOUT_MS = 60_000;
const POLICY_DIR = 'cyclonus-policies';
const PROBE_FILE = 'cyclonus-probe.json';

/** `ns/pod` of every model pod, in model order (x/a … z/c). */
const MODEL_PODS: readonly string[] = NAMESPACES.flatMap((ns) =>
  POD_NAMES.map((p) => `${ns}/${p}`),
);

/** Container port name of the model, e.g. `serve-80-tcp`. */
function portName(port: number, protocol: ProbeProtocol): string {
  return `serve-${port}-${protocol.toLowerCase()}`;
}

/**
 * The probe file: Go field names of cyclonus's `SyntheticProbeConnectivityConfig`
 * (`Resources` = namespaces with labels + pods with labels, IP, one container per
 * port/protocol; `Probes` = port/protocol pairs, probed one truth table each).
 */
function probeDescription(ports: readonly ProbePort[]): unknown {
  const namespaces: Record<string, Record<string, string>> = {};
  const pods: unknown[] = [];
  NAMESPACES.forEach((ns, i) => {
    namespaces[ns] = { ns, 'kubernetes.io/metadata.name': ns };
    POD_NAMES.forEach((pod, j) => {
      pods.push({
        Namespace: ns,
        Name: pod,
        Labels: { pod },
        IP: `10.244.${i + 1}.${j + 1}`,
        Containers: MODEL_PORTS.flatMap((port) =>
          MODEL_PROTOCOLS.map((protocol) => ({
            Name: `cont-${port}-${protocol.toLowerCase()}`,
            Port: port,
            Protocol: protocol,
            PortName: portName(port, protocol),
          })),
        ),
      });
    });
  });
  // Probe by port *name*: for a numbered probe cyclonus resolves the destination's port name
  // from the first container with that number whatever its protocol (80/UDP gets
  // `serve-80-tcp`), which breaks named-port rules. The name resolves to the right number and
  // name, and the protocol is the probe's own.
  const probes = ports.map((p) => ({ Port: portName(p.port, p.protocol), Protocol: p.protocol }));
  return { Resources: { Namespaces: namespaces, Pods: pods }, Probes: probes };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * cyclonus rejects a policy without `spec.policyTypes`; apply the apiserver's defaulting
 * (`Ingress`, plus `Egress` when `spec.egress` is a non-empty list), as a real cluster would.
 */
function withDefaultPolicyTypes(policy: unknown): unknown {
  if (
    !isRecord(policy) ||
    !isRecord(policy['spec']) ||
    policy['spec']['policyTypes'] !== undefined
  ) {
    return policy;
  }
  const spec = policy['spec'];
  const egress = spec['egress'];
  const policyTypes =
    Array.isArray(egress) && egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  return { ...policy, spec: { ...spec, policyTypes } };
}

function run(binary: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      args,
      { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const how = error.killed
            ? `killed (${error.signal ?? 'timeout'}, limit ${TIMEOUT_MS} ms)`
            : `exit ${String(error.code ?? error.signal ?? '?')}`;
          reject(new Error(`cyclonus failed: ${how}: ${binary} ${args.join(' ')}\n${stderr}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** The `Combined:` tables of the output, in order, as [header cells, ...row cells]. */
function combinedTables(stdout: string): string[][][] {
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of stdout.split('\n')) {
    if (line.trim() === 'Combined:') {
      current = [];
      tables.push(current);
    } else if (current && line.startsWith('|')) {
      current.push(
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    } else if (current && !line.startsWith('+')) {
      current = undefined;
    }
  }
  return tables;
}

function parseTable(rows: string[][], probe: ProbePort, out: OracleResult[]): void {
  const [header, ...body] = rows;
  const what = `cyclonus table for ${probe.port}/${probe.protocol}`;
  // tablewriter upper-cases header cells; row labels keep their case.
  const tos = (header ?? []).slice(1).map((c) => c.toLowerCase());
  const cells = new Map<string, string>();
  for (const row of body) {
    const [from, ...values] = row;
    if (from === undefined || values.length !== tos.length)
      throw new Error(`${what}: bad row ${row.join('|')}`);
    values.forEach((v, i) => cells.set(`${from} ${tos[i] ?? ''}`, v));
  }
  for (const from of MODEL_PODS) {
    for (const to of MODEL_PODS) {
      if (from === to) continue;
      const cell = cells.get(`${from} ${to}`);
      if (cell !== '.' && cell !== 'X')
        throw new Error(`${what}: cell ${from} -> ${to} is ${cell ?? 'missing'}`);
      out.push({
        from,
        to,
        port: probe.port,
        protocol: probe.protocol,
        verdict: cell === '.' ? 'allow' : 'deny',
      });
    }
  }
}

/**
 * Computes cyclonus's verdicts for `policies` on the shared model (namespaces x, y, z; pods
 * a, b, c; ports 80 and 81 on TCP, UDP and SCTP).
 *
 * Writes the policies (one YAML file each, `policyTypes` defaulted as the apiserver does) and
 * the probe description into `workDir`, runs `binary`, and parses its combined truth tables.
 *
 * @returns one result per requested port/protocol (in the order given) and per ordered pair of
 *   distinct model pods (pod-to-self is dropped); `verdict` is `allow` when both the source's
 *   egress and the destination's ingress allow the connection.
 * @throws if cyclonus exits non-zero or times out (the message includes its stderr), if a port
 *   is not served by the model, or if the output cannot be parsed.
 */
export async function cyclonusTruthTable(opts: {
  policies: unknown[];
  ports: { port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }[];
  binary: string;
  workDir: string;
}): Promise<OracleResult[]> {
  for (const p of opts.ports) {
    if (
      !(MODEL_PORTS as readonly number[]).includes(p.port) ||
      !MODEL_PROTOCOLS.includes(p.protocol)
    ) {
      throw new Error(`cyclonus oracle: ${p.port}/${p.protocol} is not served by the model`);
    }
  }
  const policyDir = join(opts.workDir, POLICY_DIR);
  const probePath = join(opts.workDir, PROBE_FILE);
  await rm(policyDir, { recursive: true, force: true });
  await mkdir(policyDir, { recursive: true });
  // cyclonus parses each file as one object with sigs.k8s.io/yaml (YAML 1.1: a bare `y` or
  // `n` is a boolean), so write YAML 1.1 with every string quoted.
  await Promise.all(
    opts.policies.map((policy, i) =>
      writeFile(
        join(policyDir, `${String(i).padStart(3, '0')}.yaml`),
        stringify(withDefaultPolicyTypes(policy), {
          version: '1.1',
          defaultStringType: 'QUOTE_DOUBLE',
          defaultKeyType: 'PLAIN',
        }),
      ),
    ),
  );
  await writeFile(probePath, JSON.stringify(probeDescription(opts.ports), null, 2));

  const stdout = await run(opts.binary, [
    'analyze',
    '--mode',
    'probe',
    '--simplify-policies=false',
    '--policy-path',
    policyDir,
    '--probe-path',
    probePath,
  ]);
  // One Combined table per probe, then one (empty) for pods read from a cluster, of which
  // there are none.
  const tables = combinedTables(stdout);
  if (tables.length < opts.ports.length) {
    throw new Error(
      `cyclonus printed ${tables.length} truth tables, expected ${opts.ports.length}:\n${stdout}`,
    );
  }
  const results: OracleResult[] = [];
  opts.ports.forEach((probe, i) => parseTable(tables[i] ?? [], probe, results));
  return results;
}

/**
 * Locates the cyclonus binary: `$CYCLONUS` if set, else `$PALISADE_CACHE/bin/cyclonus`
 * (`PALISADE_CACHE` defaults to `~/.cache/palisade`, where `scripts/install-cyclonus.sh`
 * puts it).
 *
 * @returns the path when it names an executable file, otherwise `undefined`.
 */
export function findCyclonus(): string | undefined {
  const fromEnv = process.env['CYCLONUS'];
  const cache = process.env['PALISADE_CACHE'] || join(homedir(), '.cache', 'palisade');
  const candidate = fromEnv || join(cache, 'bin', 'cyclonus');
  try {
    accessSync(candidate, fsConstants.X_OK);
    return statSync(candidate).isFile() ? candidate : undefined;
  } catch {
    return undefined;
  }
}
