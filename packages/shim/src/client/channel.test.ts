import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelOptions, STREAM_BACKOFF } from './channel.js';

describe('channelOptions', () => {
  it("caps grpc-js's own reconnect backoff at the stream's, so a returning operator is reached in time", () => {
    // Without these, grpc-js grows its connection backoff to 120 s and fails every new
    // stream at once until it expires: measured 26–49 s of lag after a 60 s operator outage.
    const o = channelOptions(undefined);
    assert.equal(o['grpc.initial_reconnect_backoff_ms'], STREAM_BACKOFF.initialMs);
    assert.equal(o['grpc.max_reconnect_backoff_ms'], STREAM_BACKOFF.maxMs);
    assert.ok(STREAM_BACKOFF.maxMs <= 10_000);
  });
  it('names the operator certificate when asked', () => {
    const o = channelOptions('palisade-operator.palisade-system.svc');
    assert.equal(o['grpc.ssl_target_name_override'], 'palisade-operator.palisade-system.svc');
    assert.equal(channelOptions(undefined)['grpc.ssl_target_name_override'], undefined);
  });
});
