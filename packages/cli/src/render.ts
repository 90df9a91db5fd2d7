/**
 * Output formats: JSON (the contract of the design brief §6) and the reachability matrix
 * (rows from, columns to, `.` allow, `X` deny, `-` the pod itself).
 */
import type { SimResult } from './simulation.js';

/** The part of a result both outputs need (`lab probe` prints real probes in the same shape). */
export type VerdictLine = Pick<SimResult, 'from' | 'to' | 'port' | 'protocol' | 'verdict'>;

/** `{"results":[…]}` with one result per line of the array, for readable diffs. */
export function renderJson(results: readonly VerdictLine[]): string {
  return `${JSON.stringify({ results }, null, 2)}\n`;
}

/** One matrix per port/protocol. */
export function renderTable(results: readonly VerdictLine[], pods: readonly string[]): string {
  const byPort = new Map<string, Map<string, VerdictLine>>();
  for (const r of results) {
    const k = `${r.port}/${r.protocol}`;
    let m = byPort.get(k);
    if (!m) byPort.set(k, (m = new Map<string, VerdictLine>()));
    m.set(`${r.from}>${r.to}`, r);
  }
  const w = Math.max(3, ...pods.map((p) => p.length));
  const pad = (s: string): string => s.padEnd(w);
  const out: string[] = [];
  for (const [port, m] of byPort) {
    out.push(`${port}:`);
    out.push(`${pad('')} ${pods.map(pad).join(' ')}`);
    for (const from of pods) {
      const cells = pods.map((to) => {
        if (from === to) return pad('-');
        const r = m.get(`${from}>${to}`);
        return pad(r ? (r.verdict === 'allow' ? '.' : 'X') : '?');
      });
      out.push(`${pad(from)} ${cells.join(' ')}`);
    }
    out.push('');
  }
  return out.join('\n');
}
