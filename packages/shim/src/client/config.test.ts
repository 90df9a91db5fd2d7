import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ShimError } from '../errors.js';
import { distributionConfig, type DistributionFlags } from './config.js';

function refused(f: DistributionFlags, why: RegExp): void {
  assert.throws(
    () => distributionConfig(f),
    (e: unknown) => e instanceof ShimError && e.code === 'INVALID_REQUEST' && why.test(e.message),
  );
}

describe('distribution flags', () => {
  it('is off without --operator, and then takes no TLS flag', () => {
    assert.equal(distributionConfig({}), undefined);
    refused({ caFile: 'ca.pem' }, /--ca-file is only for --operator/);
    refused({ tokenFile: 't' }, /--token-file is only for --operator/);
  });

  it('takes files or a token', () => {
    assert.deepEqual(
      distributionConfig({
        operator: 'op.palisade-system.svc:9443',
        caFile: 'ca.pem',
        certFile: 'c.pem',
        keyFile: 'k.pem',
        tlsServerName: 'op',
      }),
      {
        target: 'op.palisade-system.svc:9443',
        tlsServerName: 'op',
        credentials: { kind: 'files', caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem' },
      },
    );
    assert.deepEqual(distributionConfig({ operator: '[::1]:9443', caFile: 'ca', tokenFile: 't' }), {
      target: '[::1]:9443',
      credentials: { kind: 'token', caFile: 'ca', tokenFile: 't', bootstrapTarget: '[::1]:9443' },
    });
    assert.equal(
      distributionConfig({
        operator: 'dns:///op:9443',
        caFile: 'ca',
        tokenFile: 't',
        bootstrapOperator: 'op:9444',
      })?.credentials.kind,
      'token',
    );
  });

  it('refuses incomplete or contradictory flags, naming them', () => {
    refused({ operator: 'op:1', certFile: 'c', keyFile: 'k' }, /needs --ca-file/);
    refused({ operator: 'op:1', caFile: 'ca' }, /--cert-file and --key-file, or --token-file/);
    refused({ operator: 'op:1', caFile: 'ca', certFile: 'c' }, /go together/);
    refused(
      { operator: 'op:1', caFile: 'ca', certFile: 'c', keyFile: 'k', tokenFile: 't' },
      /not both/,
    );
    refused(
      { operator: 'op:1', caFile: 'ca', certFile: 'c', keyFile: 'k', bootstrapOperator: 'op:2' },
      /only for --token-file/,
    );
    refused({ operator: 'op', caFile: 'ca', tokenFile: 't' }, /--operator must be host:port/);
    refused({ operator: 'op:70000', caFile: 'ca', tokenFile: 't' }, /host:port/);
    refused(
      { operator: 'op:1', caFile: 'ca', tokenFile: 't', bootstrapOperator: 'x y:1' },
      /--bootstrap-operator must be host:port/,
    );
    refused({ operator: 'op:1', caFile: 'ca', tokenFile: 't', tlsServerName: '' }, /empty/);
  });
});
