import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setCondition } from './conditions.js';

describe('setCondition', () => {
  const t1 = new Date('2026-01-01T00:00:00.123Z');
  const t2 = new Date('2026-01-02T00:00:00Z');
  it('adds, keeps the transition time while the status holds, and reports changes', () => {
    const a = setCondition(
      undefined,
      { type: 'Valid', status: 'True', reason: 'Compiled', message: 'ok', observedGeneration: 1 },
      t1,
    );
    assert.equal(a.changed, true);
    assert.equal(a.conditions[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
    const b = setCondition(
      a.conditions,
      { type: 'Valid', status: 'True', reason: 'Compiled', message: 'ok', observedGeneration: 1 },
      t2,
    );
    assert.equal(b.changed, false);
    const c = setCondition(
      b.conditions,
      { type: 'Valid', status: 'True', reason: 'Compiled', message: 'ok', observedGeneration: 2 },
      t2,
    );
    assert.equal(c.changed, true);
    assert.equal(c.conditions[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
    const d = setCondition(
      c.conditions,
      {
        type: 'Valid',
        status: 'False',
        reason: 'InvalidRegex',
        message: 'x',
        observedGeneration: 3,
      },
      t2,
    );
    assert.equal(d.conditions[0]?.lastTransitionTime, '2026-01-02T00:00:00Z');
    const e = setCondition(
      d.conditions,
      { type: 'Enforced', status: 'Unknown', reason: 'Pending', message: '' },
      t2,
    );
    assert.deepEqual(
      e.conditions.map((x) => x.type),
      ['Valid', 'Enforced'],
    );
  });
});
