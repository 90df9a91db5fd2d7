/**
 * The CRDs in crds/ are generated from the zod schemas; this fails when they are stale,
 * and checks they are structural schemas carrying the CEL rules.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderCrds } from './gen.js';

const CRDS = fileURLToPath(new URL('../../../../crds/', import.meta.url));

type Node = Record<string, unknown>;

function walk(node: Node, path: string, visit: (n: Node, p: string) => void): void {
  visit(node, path);
  for (const [k, v] of Object.entries(
    (node['properties'] as Record<string, Node> | undefined) ?? {},
  ))
    walk(v, `${path}.${k}`, visit);
  if (node['items']) walk(node['items'] as Node, `${path}[]`, visit);
  if (typeof node['additionalProperties'] === 'object')
    walk(node['additionalProperties'] as Node, `${path}{}`, visit);
}

describe('generated CRDs', () => {
  const files = renderCrds();

  it('crds/ is up to date (run `pnpm -s palisade gen crds` when this fails)', () => {
    for (const [name, text] of Object.entries(files))
      assert.equal(readFileSync(`${CRDS}${name}`, 'utf8'), text, `${name} is stale`);
  });

  it('are structural: every node typed, no anyOf/oneOf/$ref, int-or-string marked', () => {
    for (const [name, text] of Object.entries(files)) {
      const crd = parse(text) as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } };
      walk(crd.spec.versions[0]!.schema.openAPIV3Schema, name, (n, p) => {
        assert.ok(
          typeof n['type'] === 'string' || n['x-kubernetes-int-or-string'] === true,
          `${p} has no type`,
        );
        for (const bad of ['anyOf', 'oneOf', '$ref', 'const', 'nullable'])
          assert.ok(!(bad in n), `${p} has ${bad}`);
        assert.ok(n['additionalProperties'] !== false, `${p} has additionalProperties: false`);
      });
    }
  });

  it('carry the CEL rules a schema cannot express', () => {
    const text = files['palisade.dev_palisadenetworkpolicies.yaml']!;
    for (const needle of [
      'a peer names exactly one kind of selector',
      'isCIDR(self)',
      'endPort needs a numeric port',
      'every except prefix must lie inside cidr',
      'http rules need ports',
    ])
      assert.ok(text.includes(needle), needle);
    assert.ok(
      files['palisade.dev_palisadeclusternetworkpolicies.yaml']!.includes('scope: Cluster'),
    );
  });
});
