import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parsePortArg, prefixToRange, rangeToPrefixes } from './ports.js';

describe('ports', () => {
  it('splits a range into prefixes that cover it exactly, without overlap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        (a, b) => {
          const r = { lo: Math.min(a, b), hi: Math.max(a, b) };
          const ps = rangeToPrefixes(r);
          let next = r.lo;
          for (const p of ps) {
            const pr = prefixToRange(p);
            assert.equal(pr.lo, next);
            next = pr.hi + 1;
          }
          assert.equal(next, r.hi + 1);
          assert.ok(ps.length <= 30);
        },
      ),
    );
  });
  it('uses one prefix for the full range and 16-bit prefixes for single ports', () => {
    assert.deepEqual(rangeToPrefixes({ lo: 0, hi: 65535 }), [{ port: 0, len: 0 }]);
    assert.deepEqual(rangeToPrefixes({ lo: 80, hi: 80 }), [{ port: 80, len: 16 }]);
    assert.deepEqual(rangeToPrefixes({ lo: 30000, hi: 30001 }), [{ port: 30000, len: 15 }]);
  });
  it('parses --port arguments', () => {
    assert.deepEqual(parsePortArg('80/TCP'), { port: 80, protocol: 'TCP' });
    assert.deepEqual(parsePortArg('53/udp'), { port: 53, protocol: 'UDP' });
    assert.deepEqual(parsePortArg('81'), { port: 81, protocol: 'TCP' });
    assert.deepEqual(parsePortArg('serve-80-tcp/TCP'), { port: 'serve-80-tcp', protocol: 'TCP' });
    assert.deepEqual(parsePortArg('8/ICMP'), { port: 8, protocol: 'ICMP' });
    for (const bad of ['70000/TCP', '0/TCP', '80/XYZ', '80/ANY', '', 'Bad_Name/TCP'])
      assert.equal(parsePortArg(bad), undefined, bad);
  });
});
