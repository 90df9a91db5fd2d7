/**
 * Bad input gets an error naming the object and the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolicyError } from '../errors.js';
import { parseObject } from '../objects/parseObject.js';
import { np, pnp, pod } from '../testing/compile.js';

function refused(obj: unknown, field: string, code?: string): void {
  assert.throws(
    () => parseObject(obj),
    (e: unknown) => {
      assert.ok(e instanceof PolicyError, String(e));
      assert.equal(e.field, field, e.message);
      if (code) assert.equal(e.code, code);
      assert.ok(
        e.message.includes(e.object?.name ?? '???'),
        `message names the object: ${e.message}`,
      );
      return true;
    },
  );
}

describe('normalisation errors', () => {
  it('NetworkPolicy: selectors, CIDRs, ports, ranges, peers', () => {
    refused(
      np('x', 'a', { podSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }),
      'spec.podSelector.matchExpressions[0].values',
      'InvalidSelector',
    );
    refused(
      np('x', 'a', {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }],
      }),
      'spec.ingress[0].from[0].ipBlock.cidr',
      'InvalidCIDR',
    );
    refused(
      np('x', 'a', {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }],
      }),
      'spec.ingress[0].from[0].ipBlock.except[0]',
      'InvalidCIDR',
    );
    refused(
      np('x', 'a', {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] } }] }],
      }),
      'spec.ingress[0].from[0].ipBlock.except[0]',
      'InvalidCIDR',
    );
    refused(
      np('x', 'a', { podSelector: {}, egress: [{ ports: [{ port: 70000 }] }] }),
      'spec.egress[0].ports[0].port',
      'InvalidPort',
    );
    refused(
      np('x', 'a', { podSelector: {}, egress: [{ ports: [{ port: 90, endPort: 80 }] }] }),
      'spec.egress[0].ports[0].endPort',
      'InvalidPortRange',
    );
    refused(
      np('x', 'a', { podSelector: {}, egress: [{ ports: [{ port: 'http', endPort: 80 }] }] }),
      'spec.egress[0].ports[0].endPort',
      'InvalidPortRange',
    );
    refused(
      np('x', 'a', { podSelector: {}, egress: [{ ports: [{ port: 'Not_A_Name' }] }] }),
      'spec.egress[0].ports[0].port',
      'InvalidPort',
    );
    refused(
      np('x', 'a', { podSelector: {}, ingress: [{ from: [{}] }] }),
      'spec.ingress[0].from[0]',
      'InvalidObject',
    );
    refused(
      np('x', 'a', {
        podSelector: {},
        ingress: [{ from: [{ podSelector: {}, ipBlock: { cidr: '10.0.0.0/8' } }] }],
      }),
      'spec.ingress[0].from[0]',
      'InvalidObject',
    );
    refused(
      np('x', 'a', { podSelector: {}, egress: [{ ports: [{ protocol: 'ICMP' }] }] }),
      'spec.egress[0].ports[0].protocol',
      'InvalidObject',
    );
  });

  it('Palisade policies: peer kinds, regex, http ports, ICMP', () => {
    refused(
      pnp('x', 'a', {
        endpointSelector: {},
        ingress: [{ from: [{ cidr: '10.0.0.0/8', entity: 'world' }] }],
      }),
      'spec.ingress[0].from[0]',
      'InvalidObject',
    );
    refused(
      pnp('x', 'a', {
        endpointSelector: {},
        ingress: [{ ports: [{ port: 80 }], http: [{ path: '/api/(' }] }],
      }),
      'spec.ingress[0].http[0].path',
      'InvalidRegex',
    );
    refused(
      pnp('x', 'a', {
        endpointSelector: {},
        ingress: [{ ports: [{ protocol: 'UDP', port: 53 }], http: [{ path: '/' }] }],
      }),
      'spec.ingress[0].http',
      'InvalidObject',
    );
    refused(
      pnp('x', 'a', { endpointSelector: {}, egress: [{ ports: [{ protocol: 'ICMP', port: 8 }] }] }),
      'spec.egress[0].ports[0].port',
      'InvalidPort',
    );
    refused(
      pnp('x', 'a', {
        endpointSelector: {},
        egress: [{ ports: [{ protocol: 'TCP', icmpType: 8 }] }],
      }),
      'spec.egress[0].ports[0].icmpType',
      'InvalidPort',
    );
    refused(
      pnp('x', 'a', { endpointSelector: {}, egress: [{ to: [{ entity: 'moon' }] }] }),
      'spec.egress[0].to[0].entity',
      'InvalidObject',
    );
    refused(pnp('x', 'a', { ingress: [] }), 'spec.endpointSelector', 'InvalidObject');
  });

  it('pods and unknown kinds', () => {
    const bad = pod('x', 'p', { 'bad key!': 'v' }, '10.0.0.1');
    refused(bad, 'metadata.labels', 'InvalidLabel');
    refused(pod('x', 'p', {}, '10.0.0.999'), 'status.podIP', 'InvalidObject');
    refused(
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } },
      'kind',
      'UnsupportedKind',
    );
  });
});
