import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EntryTable } from './entryTable.js';

const key = (n: number): Buffer => {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(n, 0);
  b.writeUInt32LE(n * 7, 8);
  return b;
};
const value = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n, 0);
  return b;
};

/** The table's entries as a Map (key hex → value number), for comparison with a model. */
function contents(t: EntryTable): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < t.size; i++)
    out.set(t.keyAt(i).toString('hex'), t.valueAt(i).readUInt32LE(0));
  return out;
}

describe('entry table', () => {
  it('behaves like a Map under random inserts, overwrites and deletes (growing and shrinking)', () => {
    const t = new EntryTable(12, 8);
    const model = new Map<string, number>();
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 60_000; step++) {
      const n = rnd(step < 30_000 ? 5000 : 300);
      const k = key(n);
      if (rnd(3) === 0) {
        assert.equal(t.delete(k, 0), model.delete(k.toString('hex')));
      } else {
        const v = rnd(1000);
        t.set(k, 0, value(v), 0);
        model.set(k.toString('hex'), v);
      }
      if (step % 5000 === 0) assert.deepEqual(contents(t), model);
    }
    assert.deepEqual(contents(t), model);
    for (const [hex, v] of model) {
      const e = t.find(Buffer.from(hex, 'hex'), 0);
      assert.ok(e >= 0);
      assert.ok(t.valueEquals(e, value(v), 0));
      assert.ok(t.holds(Buffer.from(hex, 'hex'), 0, value(v), 0));
      assert.ok(!t.holds(Buffer.from(hex, 'hex'), 0, value(v + 1), 0));
    }
    assert.equal(t.find(key(99_999), 0), -1);
    t.clear();
    assert.equal(t.size, 0);
    assert.equal(t.find(key(1), 0), -1);
  });

  it('refills from packed entries written into its storage, growing when they do not fit', () => {
    const keys = Buffer.concat([key(1), key(2), key(1), key(3)]);
    const values = Buffer.concat([value(10), value(20), value(11), value(30)]);
    const t = new EntryTable(12, 8);
    t.set(key(9), 0, value(90), 0);
    let calls = 0;
    const fill =
      (n: number) =>
      (k: Buffer, v: Buffer): number => {
        calls++;
        const fit = Math.min(n, Math.floor(k.length / 12));
        keys.copy(k, 0, 0, fit * 12);
        values.copy(v, 0, 0, fit * 8);
        return n;
      };
    t.refill(fill(4));
    assert.equal(calls, 1);
    assert.deepEqual(
      contents(t),
      new Map([
        [key(1).toString('hex'), 11],
        [key(2).toString('hex'), 20],
        [key(3).toString('hex'), 30],
      ]),
      'a repeated key keeps its last value; what was there before is gone',
    );
    assert.equal(t.keys.length, 36);
    assert.equal(t.values.length, 24);
    t.set(key(4), 0, value(40), 0);
    assert.equal(t.size, 4);

    const big = new EntryTable(12, 8);
    const many = 100;
    const mk = Buffer.concat(Array.from({ length: many }, (_, i) => key(i)));
    const mv = Buffer.concat(Array.from({ length: many }, (_, i) => value(i)));
    let rounds = 0;
    big.refill((k, v) => {
      rounds++;
      const fit = Math.min(many, Math.floor(k.length / 12));
      mk.copy(k, 0, 0, fit * 12);
      mv.copy(v, 0, 0, fit * 8);
      return many;
    });
    assert.equal(rounds, 2, 'grew once, then everything fit');
    assert.equal(big.size, many);
    assert.ok(big.holds(key(77), 0, value(77), 0));
    big.refill(() => 0);
    assert.equal(big.size, 0);
  });
});
