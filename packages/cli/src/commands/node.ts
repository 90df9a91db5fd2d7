/**
 * `palisade node …`: what the shim on this node sees, through its local API.
 *
 *   palisade node flows  [--node NAME | --socket PATH] [--verdict allow|deny|redirect] [--limit N] [-o table|json]
 *   palisade node status [--node NAME | --socket PATH] [-o table|json]
 */
import { hostname } from 'node:os';
import { callShim, defaultSocket, type FlowRecord, type ShimStatus } from '@palisade/shim';
import { flag, parseArgs, type Parsed } from '../args.js';
import { CliError } from '../errors.js';
import type { Io } from './io.js';

/** Usage of `node`. */
export const NODE_USAGE = `palisade node flows  [--node NAME | --socket PATH] [--verdict allow|deny|redirect] [--limit N] [-o table|json]
palisade node status [--node NAME | --socket PATH] [-o table|json]
  Talk to the shim on this machine (default socket /run/palisade/<node>/shim.sock).`;

const SPEC = {
  node: { value: true },
  socket: { value: true },
  verdict: { value: true },
  limit: { value: true },
  output: { value: true, alias: 'o' },
} as const;

function socketOf(p: Parsed): string {
  return flag(p, 'socket') ?? defaultSocket(flag(p, 'node') ?? hostname());
}

function outputOf(p: Parsed): 'table' | 'json' {
  const o = flag(p, 'output', 'table');
  if (o !== 'table' && o !== 'json')
    throw new CliError('Usage', `-o must be table or json, got ${o}`);
  return o;
}

async function call(socket: string, path: string): Promise<unknown> {
  try {
    return await callShim(socket, 'GET', path);
  } catch (e) {
    throw new CliError('Unreachable', (e as Error).message, { cause: e });
  }
}

/** Formats rows as aligned columns. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

function endpointText(addr: string, port: number, pod: string | undefined): string {
  const a = addr.includes(':') ? `[${addr}]` : addr;
  return `${pod ?? a}${port ? `:${port}` : ''}`;
}

/** Renders flow records as a table, newest last. */
export function renderFlows(flows: readonly FlowRecord[]): string {
  if (flows.length === 0) return 'no flows recorded yet\n';
  return table(
    ['TIME', 'ENDPOINT', 'DIR', 'VERDICT', 'REASON', 'PROTO', 'SOURCE', 'DESTINATION', 'RULES'],
    flows.map((f) => {
      const srcPod = f.direction === 'egress' ? f.endpoint : f.remotePod;
      const dstPod = f.direction === 'egress' ? f.remotePod : f.endpoint;
      return [
        f.time.slice(11, 23),
        f.endpoint ?? '-',
        f.direction,
        f.verdict,
        f.reason,
        f.icmpType !== undefined ? `${f.protocol}/${f.icmpType}` : f.protocol,
        endpointText(f.src, f.srcPort, srcPod),
        endpointText(f.dst, f.dstPort, dstPod),
        f.rules.length ? f.rules.join(',') : '-',
      ];
    }),
  );
}

/** Runs `node …`. */
export async function nodeCommand(io: Io, argv: readonly string[]): Promise<number> {
  const p = parseArgs(argv, SPEC);
  const [sub, ...extra] = p.positional;
  if (extra.length) throw new CliError('Usage', `unexpected argument ${extra[0]}\n${NODE_USAGE}`);
  const socket = socketOf(p);
  const output = outputOf(p);
  switch (sub) {
    case 'flows': {
      const verdict = flag(p, 'verdict');
      if (verdict && !['allow', 'deny', 'redirect'].includes(verdict))
        throw new CliError('Usage', `--verdict must be allow, deny or redirect, got ${verdict}`);
      const limit = flag(p, 'limit', '50') as string;
      if (!/^\d+$/.test(limit) || Number(limit) < 1)
        throw new CliError('Usage', `--limit must be a positive integer, got ${limit}`);
      const q = new URLSearchParams({ limit, ...(verdict ? { verdict } : {}) });
      const { flows } = (await call(socket, `/v1/flows?${q.toString()}`)) as {
        flows: FlowRecord[];
      };
      io.out(output === 'json' ? `${JSON.stringify({ flows }, null, 2)}\n` : renderFlows(flows));
      return 0;
    }
    case 'status': {
      const s = (await call(socket, '/v1/status')) as ShimStatus;
      if (output === 'json') io.out(`${JSON.stringify(s, null, 2)}\n`);
      else {
        io.out(
          `node ${s.node}: ${s.endpoints} endpoints, maps pinned at ${s.pinDir}, policy epoch ${s.policyEpoch}\n`,
        );
        io.out(
          table(
            ['MAP', 'ENTRIES', 'CAPACITY'],
            Object.entries(s.maps).map(([m, v]) => [m, String(v.entries), String(v.capacity)]),
          ),
        );
        io.out(
          table(
            ['COUNTER', 'VALUE'],
            Object.entries(s.counters).map(([k, v]) => [k, String(v)]),
          ),
        );
        if (s.lastError)
          io.out(`last error: ${s.lastError.code}: ${s.lastError.message} (${s.lastError.time})\n`);
      }
      return 0;
    }
    case undefined:
      throw new CliError('Usage', NODE_USAGE);
    default:
      throw new CliError('Usage', `unknown node command "${sub}"\n${NODE_USAGE}`);
  }
}
