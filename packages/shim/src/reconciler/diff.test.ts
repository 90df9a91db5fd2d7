import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EntryTable } from '../bpf/entryTable.js';
import { countDifferences, diffSize, diffTables } from './diff.js';

function table(entries: readonly [number, number][]): EntryTable {
  const t = new EntryTable(4, 4);
  const k = Buffer.alloc(4);
  const v = Buffer.alloc(4);
  for (const [key, value] of entries) {
    k.writeUInt32LE(key);
    v.writeUInt32LE(value);
    t.set(k, 0, v, 0);
  }
  return t;
}

const words = (b: Buffer, n: number): number[] =>
  Array.from({ length: n }, (_, i) => b.readUInt32LE(i * 4)).sort((x, y) => x - y);

describe('map diff', () => {
  it('writes new and changed entries, deletes gone ones, packed for the batch calls', () => {
    const desired = table([
      [1, 10],
      [2, 21],
      [4, 40],
    ]);
    const actual = table([
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
    const d = diffTables(desired, actual);
    assert.equal(d.upsert.count, 2);
    assert.deepEqual(words(d.upsert.keys, 2), [2, 4]);
    assert.equal(d.upsert.values.length, 8);
    assert.equal(d.remove.count, 1);
    assert.deepEqual(words(d.remove.keys, 1), [3]);
    assert.equal(diffSize(d), 3);
    assert.equal(countDifferences(desired, actual), 3);
    assert.equal(countDifferences(actual, actual), 0);
    assert.equal(diffSize(diffTables(actual, actual)), 0);
  });
});
