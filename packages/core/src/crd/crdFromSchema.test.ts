import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateCrds, toStructural } from './crdFromSchema.js';
import { MAX_ITEMS, MAX_LENGTH } from '../schema/limits.js';

type Node = { [k: string]: unknown };

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walks a schema, calling `visit` on every node with its path. */
function walk(node: unknown, path: string, visit: (n: Node, path: string) => void): void {
  if (!isNode(node)) return;
  visit(node, path);
  const props = node['properties'];
  if (isNode(props)) for (const [k, v] of Object.entries(props)) walk(v, `${path}.${k}`, visit);
  walk(node['items'], `${path}[]`, visit);
  walk(node['additionalProperties'], `${path}{}`, visit);
}

function version(crd: Node): Node {
  const spec = crd['spec'] as Node;
  return (spec['versions'] as Node[])[0] as Node;
}

function specSchema(crd: Node): Node {
  const v = version(crd);
  const root = (v['schema'] as Node)['openAPIV3Schema'] as Node;
  return (root['properties'] as Node)['spec'] as Node;
}

function columns(crd: Node): string[] {
  return (version(crd)['additionalPrinterColumns'] as Node[]).map((c) => String(c['name']));
}

describe('generateCrds', () => {
  const crds = generateCrds() as Record<string, Node>;

  it('generates the two policy kinds and SecurityIdentity', () => {
    assert.deepEqual(Object.keys(crds).sort(), [
      'palisade.dev_palisadeclusternetworkpolicies',
      'palisade.dev_palisadenetworkpolicies',
      'palisade.dev_securityidentities',
    ]);
  });

  it('bounds every string, list and map of every spec, so CEL costs are bounded', () => {
    for (const [name, crd] of Object.entries(crds)) {
      walk(specSchema(crd), 'spec', (n, path) => {
        if (n['type'] === 'string' && n['enum'] === undefined)
          assert.equal(typeof n['maxLength'], 'number', `${name}: ${path} has no maxLength`);
        if (n['type'] === 'array')
          assert.equal(typeof n['maxItems'], 'number', `${name}: ${path} has no maxItems`);
        if (n['type'] === 'object' && n['additionalProperties'] !== undefined)
          assert.equal(
            typeof n['maxProperties'],
            'number',
            `${name}: ${path} has no maxProperties`,
          );
      });
    }
  });

  it('keeps the string length of int-or-string ports', () => {
    const ingress = specSchema(crds['palisade.dev_palisadenetworkpolicies'] as Node);
    let port: Node | undefined;
    walk(ingress, 'spec', (n, path) => {
      if (path === 'spec.ingress[].ports[].port') port = n;
    });
    assert.ok(port);
    assert.equal(port['x-kubernetes-int-or-string'], true);
    assert.equal(port['maxLength'], MAX_LENGTH.port);
    assert.equal(port['anyOf'], undefined);
  });

  it('uses the documented limits', () => {
    const pnp = specSchema(crds['palisade.dev_palisadenetworkpolicies'] as Node);
    const seen = new Map<string, unknown>();
    walk(pnp, 'spec', (n, path) => seen.set(path, n['maxItems'] ?? n['maxLength']));
    assert.equal(seen.get('spec.ingress'), MAX_ITEMS.rules);
    assert.equal(seen.get('spec.ingress[].from'), MAX_ITEMS.peers);
    assert.equal(seen.get('spec.egress[].ports'), MAX_ITEMS.ports);
    assert.equal(seen.get('spec.egress[].to[].cidrSet.except'), MAX_ITEMS.except);
    assert.equal(seen.get('spec.egress[].to[].cidr'), MAX_LENGTH.cidr);
  });

  it('gives the policy kinds a status subresource and a Reason column', () => {
    for (const name of [
      'palisade.dev_palisadenetworkpolicies',
      'palisade.dev_palisadeclusternetworkpolicies',
    ]) {
      const crd = crds[name] as Node;
      assert.deepEqual(version(crd)['subresources'], { status: {} });
      assert.deepEqual(columns(crd), ['Valid', 'Enforced', 'Realized', 'Desired', 'Reason', 'Age']);
    }
  });

  it('makes SecurityIdentity cluster-scoped, immutable and without status', () => {
    const crd = crds['palisade.dev_securityidentities'] as Node;
    const spec = crd['spec'] as Node;
    assert.equal(spec['scope'], 'Cluster');
    assert.deepEqual((spec['names'] as Node)['shortNames'], ['sid']);
    assert.deepEqual((spec['names'] as Node)['categories'], ['palisade']);
    assert.equal(version(crd)['subresources'], undefined);
    assert.deepEqual(columns(crd), ['ID', 'Namespace', 'ServiceAccount', 'Unused-Since', 'Age']);
    const s = specSchema(crd);
    assert.deepEqual(s['x-kubernetes-validations'], [
      { rule: 'self == oldSelf', message: 'spec is immutable: an identity never changes' },
    ]);
    const id = (s['properties'] as Node)['id'] as Node;
    assert.equal(id['minimum'], 256);
    assert.equal(id['maximum'], 2147483647);
    assert.deepEqual(id['x-kubernetes-validations'], [
      { rule: 'self == oldSelf', message: 'id is immutable' },
    ]);
    assert.deepEqual(s['required'], [
      'id',
      'key',
      'namespace',
      'serviceAccount',
      'podLabels',
      'namespaceLabels',
    ]);
  });
});

describe('toStructural', () => {
  it('turns integer|string unions into x-kubernetes-int-or-string', () => {
    assert.deepEqual(
      toStructural({
        description: 'p',
        anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 15 }],
      }),
      { 'x-kubernetes-int-or-string': true, description: 'p', maxLength: 15 },
    );
  });
  it('drops additionalProperties: false and $schema', () => {
    assert.deepEqual(toStructural({ $schema: 'x', type: 'object', additionalProperties: false }), {
      type: 'object',
    });
  });
});
