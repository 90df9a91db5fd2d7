import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolicyError } from '../errors.js';
import { compileSelector, selectorMatches } from './selector.js';

describe('label selectors', () => {
  it('matches with Kubernetes semantics (NotIn and DoesNotExist match a missing key)', () => {
    const s = compileSelector(
      {
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'NotIn', values: ['db'] },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
      'spec.podSelector',
    );
    assert.ok(selectorMatches(s, { app: 'web' }));
    assert.ok(selectorMatches(s, { app: 'web', tier: 'fe' }));
    assert.ok(!selectorMatches(s, { app: 'web', tier: 'db' }));
    assert.ok(!selectorMatches(s, { app: 'web', legacy: '' }));
    assert.ok(!selectorMatches(s, { tier: 'fe' }));
  });
  it('gives equal selectors one canonical key', () => {
    const a = compileSelector({ matchLabels: { a: '1', b: '2' } }, 'x');
    const b = compileSelector(
      { matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }], matchLabels: { a: '1' } },
      'x',
    );
    assert.equal(a.key, b.key);
    assert.ok(compileSelector({}, 'x').matchesAll);
    assert.ok(compileSelector(undefined, 'x').matchesAll);
  });
  it('refuses invalid selectors with the field named', () => {
    const cases: [unknown, string][] = [
      [
        { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] },
        'spec.podSelector.matchExpressions[0].values',
      ],
      [
        { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
        'spec.podSelector.matchExpressions[0].values',
      ],
      [
        { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] },
        'spec.podSelector.matchExpressions[0].operator',
      ],
      [{ matchLabels: { 'bad key!': 'x' } }, 'spec.podSelector.matchLabels'],
      [{ matchLabels: { ok: 'bad value!' } }, 'spec.podSelector.matchLabels.ok'],
    ];
    for (const [sel, field] of cases)
      assert.throws(
        () => compileSelector(sel as never, 'spec.podSelector'),
        (e: unknown) => e instanceof PolicyError && e.field === field,
        field,
      );
  });
});
