import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  combine,
  type MapValue,
  type PortKey,
  portKeyNumber,
  resolveGroup as resolve,
  ruleValue,
} from './mapState.js';
import type { PortRange } from '../model/ports.js';

interface C {
  protocol: number;
  range?: PortRange;
  verdict: MapValue['verdict'];
  ruleId: string;
  l7?: MapValue['l7'];
}
type Contribution = C;
const resolveGroup = (cs: readonly C[]): Map<number, { key: PortKey; value: MapValue }> =>
  resolve(
    cs.map((c) => ({
      protocol: c.protocol,
      ...(c.range ? { range: c.range } : {}),
      value: ruleValue(c.verdict, c.ruleId, c.l7),
    })),
  );

const TCP = 6;
/** Reads an entry by its text key, e.g. `6:80/16`. */
const get = (m: ReturnType<typeof resolveGroup>, k: string) => {
  const [proto, rest] = k.split(':') as [string, string];
  const [port, len] = rest.split('/') as [string, string];
  return m.get(
    portKeyNumber({ protocol: Number(proto), port: Number(port), prefixLen: Number(len) }),
  )?.value;
};

describe('map state resolution', () => {
  it('turns a more specific allow inside a deny into a deny (LPM would pick the allow)', () => {
    const m = resolveGroup([
      { protocol: TCP, verdict: 'deny', ruleId: 'd' },
      { protocol: TCP, range: { lo: 80, hi: 80 }, verdict: 'allow', ruleId: 'a' },
    ]);
    assert.equal(get(m, '6:80/16')?.verdict, 'deny');
    assert.deepEqual(get(m, '6:80/16')?.rules, ['d']);
    assert.equal(get(m, '6:0/0')?.verdict, 'deny');
  });
  it('leaves a deny inside an allow as a deny, and the rest of the allow allowed', () => {
    const m = resolveGroup([
      { protocol: TCP, range: { lo: 0, hi: 1023 }, verdict: 'allow', ruleId: 'a' },
      { protocol: TCP, range: { lo: 22, hi: 22 }, verdict: 'deny', ruleId: 'd' },
    ]);
    assert.equal(get(m, '6:22/16')?.verdict, 'deny');
    assert.equal(get(m, '6:0/6')?.verdict, 'allow');
  });
  it('a protocol wildcard deny covers every port key', () => {
    const m = resolveGroup([
      { protocol: 0, verdict: 'deny', ruleId: 'd' },
      { protocol: 17, range: { lo: 53, hi: 53 }, verdict: 'allow', ruleId: 'a' },
    ]);
    assert.equal(get(m, '17:53/16')?.verdict, 'deny');
  });
  it('plain allow beats an L7 redirect; redirects union their L7 rules', () => {
    const l7a = [{ path: '/a' }];
    const l7b = [{ path: '/b' }];
    const m = resolveGroup([
      { protocol: TCP, range: { lo: 80, hi: 80 }, verdict: 'redirect', ruleId: 'r1', l7: l7a },
      { protocol: TCP, range: { lo: 80, hi: 80 }, verdict: 'redirect', ruleId: 'r2', l7: l7b },
      { protocol: TCP, range: { lo: 443, hi: 443 }, verdict: 'redirect', ruleId: 'r3', l7: l7a },
      { protocol: TCP, range: { lo: 443, hi: 443 }, verdict: 'allow', ruleId: 'a' },
    ]);
    assert.deepEqual(get(m, '6:80/16'), {
      verdict: 'redirect',
      rules: ['r1', 'r2'],
      l7: [{ path: '/a' }, { path: '/b' }],
    });
    assert.deepEqual(get(m, '6:443/16'), { verdict: 'allow', rules: ['a'] });
  });
  it('is independent of contribution order', () => {
    const cs: Contribution[] = [
      { protocol: TCP, range: { lo: 10, hi: 2000 }, verdict: 'allow', ruleId: 'a' },
      { protocol: TCP, range: { lo: 100, hi: 100 }, verdict: 'deny', ruleId: 'd' },
      { protocol: 0, verdict: 'redirect', ruleId: 'r', l7: [{ method: 'GET' }] },
    ];
    const a = [...resolveGroup(cs).entries()].sort();
    const b = [...resolveGroup([...cs].reverse()).entries()].sort();
    assert.deepEqual(a, b);
  });
  it('combines the two lookups with the same precedence', () => {
    assert.equal(
      combine([
        { verdict: 'allow', rules: ['a'] },
        { verdict: 'deny', rules: ['d'] },
      ])?.verdict,
      'deny',
    );
    assert.equal(combine([undefined, { verdict: 'allow', rules: ['a'] }])?.verdict, 'allow');
    assert.equal(combine([undefined, undefined]), undefined);
  });
});
