import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_ITEMS, MAX_LENGTH } from './limits.js';
import { PalisadeNetworkPolicySpecSchema } from './palisadePolicy.js';
import { SecurityIdentitySpecSchema } from './securityIdentity.js';
import { parsePrefix } from '../model/cidr.js';

const rule = { from: [{ cidr: '10.0.0.0/8' }], ports: [{ port: 80 }] };

describe('size limits', () => {
  it('accept policies up to each limit and refuse one more', () => {
    const at = (n: number) => ({ endpointSelector: {}, ingress: Array<unknown>(n).fill(rule) });
    assert.ok(PalisadeNetworkPolicySpecSchema.safeParse(at(MAX_ITEMS.rules)).success);
    assert.ok(!PalisadeNetworkPolicySpecSchema.safeParse(at(MAX_ITEMS.rules + 1)).success);
    const except = (n: number) => ({
      endpointSelector: {},
      egress: [
        {
          to: [
            {
              cidrSet: {
                cidr: '10.0.0.0/8',
                except: Array.from({ length: n }, (_, i) => `10.${i}.0.0/16`),
              },
            },
          ],
        },
      ],
    });
    assert.ok(PalisadeNetworkPolicySpecSchema.safeParse(except(MAX_ITEMS.except)).success);
    assert.ok(!PalisadeNetworkPolicySpecSchema.safeParse(except(MAX_ITEMS.except + 1)).success);
  });

  it('leave room for the longest CIDR the core parses', () => {
    const longest = '0000:0000:0000:0000:0000:ffff:255.255.255.255/128';
    assert.ok(parsePrefix(longest));
    assert.equal(longest.length, MAX_LENGTH.cidr);
    const spec = { endpointSelector: {}, egress: [{ to: [{ cidr: longest }] }] };
    assert.ok(PalisadeNetworkPolicySpecSchema.safeParse(spec).success);
  });

  it('bound port names and selector sizes', () => {
    const port = (p: number | string) => ({
      endpointSelector: {},
      ingress: [{ ports: [{ port: p }] }],
    });
    assert.ok(PalisadeNetworkPolicySpecSchema.safeParse(port('a'.repeat(15))).success);
    assert.ok(!PalisadeNetworkPolicySpecSchema.safeParse(port('a'.repeat(16))).success);
    const labels = (n: number) => ({
      endpointSelector: {
        matchLabels: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])),
      },
    });
    assert.ok(PalisadeNetworkPolicySpecSchema.safeParse(labels(MAX_ITEMS.matchLabels)).success);
    assert.ok(
      !PalisadeNetworkPolicySpecSchema.safeParse(labels(MAX_ITEMS.matchLabels + 1)).success,
    );
  });
});

describe('SecurityIdentitySpecSchema', () => {
  const spec = {
    id: 256,
    key: 'ns:default;sa:default',
    namespace: 'default',
    serviceAccount: 'default',
    podLabels: { app: 'web' },
    namespaceLabels: {},
    namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
  it('accepts an identity and refuses reserved or oversized ids', () => {
    assert.ok(SecurityIdentitySpecSchema.safeParse(spec).success);
    assert.ok(SecurityIdentitySpecSchema.safeParse({ ...spec, id: 2 ** 31 - 1 }).success);
    assert.ok(!SecurityIdentitySpecSchema.safeParse({ ...spec, id: 255 }).success);
    assert.ok(!SecurityIdentitySpecSchema.safeParse({ ...spec, id: 2 ** 31 }).success);
  });
  it('needs every field but namedPorts', () => {
    const without = (field: string) =>
      Object.fromEntries(Object.entries(spec).filter(([k]) => k !== field));
    assert.ok(SecurityIdentitySpecSchema.safeParse(without('namedPorts')).success);
    for (const field of [
      'id',
      'key',
      'namespace',
      'serviceAccount',
      'podLabels',
      'namespaceLabels',
    ])
      assert.ok(!SecurityIdentitySpecSchema.safeParse(without(field)).success, field);
  });
});
