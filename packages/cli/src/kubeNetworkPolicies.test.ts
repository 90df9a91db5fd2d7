/**
 * The table-driven packet cases of kubernetes-sigs/kube-network-policies
 * (fixtures/kube-network-policies): one set of objects, single packets by IP.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { Simulation } from './simulation.js';
import { FIXTURES } from './testing/fixtures.js';

interface PacketCase {
  name: string;
  objects: unknown[];
  packets: {
    src: string;
    dst: string;
    protocol: 'TCP' | 'UDP' | 'SCTP';
    dstPort: number;
    verdict: 'allow' | 'deny';
  }[];
}

const dir = `${FIXTURES}kube-network-policies`;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('kube-network-policies packet cases', () => {
  it('has the ported cases', () => assert.ok(files.length >= 19, `only ${files.length} cases`));
  for (const f of files) {
    const c = parse(readFileSync(`${dir}/${f}`, 'utf8')) as PacketCase;
    it(`${f}: ${c.name}`, () => {
      const sim = new Simulation(c.objects.map((object, i) => ({ object, source: `${f}#${i}` })));
      assert.deepEqual(sim.errors, []);
      assert.ok(c.packets.length > 0);
      for (const p of c.packets) {
        const v = sim.evaluator.evaluate(p);
        assert.equal(v.verdict, p.verdict, `${p.src} → ${p.dst} ${p.dstPort}/${p.protocol}`);
      }
    });
  }
});
