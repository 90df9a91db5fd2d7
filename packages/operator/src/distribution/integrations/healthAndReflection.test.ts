import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { makeTestPki, type TestPki } from './testPki.js';
import { CHANNEL_OPTIONS, FakeOperator, startTestServer, type TestServer } from './testServer.js';
import { scenarioEngine } from './testScenario.js';

// ---- a few lines of protobuf wire format, enough for the reflection protocol ----------

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A message with one length-delimited field. */
function lenField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value);
  return Buffer.from([...varint((field << 3) | 2), ...varint(bytes.length), ...bytes]);
}

/** The length-delimited fields of a message, by field number (other wire types skipped). */
function fields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const read = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const tag = read();
    const wire = tag & 7;
    if (wire === 0) read();
    else if (wire === 2) {
      const len = read();
      const list = out.get(tag >>> 3) ?? [];
      list.push(buf.subarray(i, i + len));
      out.set(tag >>> 3, list);
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

/** One request on `grpc.reflection.<version>.ServerReflection/ServerReflectionInfo`. */
function reflect(
  srv: TestServer,
  version: 'v1' | 'v1alpha',
  request: Buffer,
): Promise<Map<number, Buffer[]>> {
  const c = new grpc.Client(srv.address, srv.credentials(), CHANNEL_OPTIONS);
  const stream = c.makeBidiStreamRequest(
    `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
  return new Promise((resolve, reject) => {
    stream.once('data', (b: Buffer) => {
      stream.end();
      c.close();
      resolve(fields(b));
    });
    stream.once('error', reject);
    stream.write(request);
  });
}

const LIST_SERVICES = 7; // ServerReflectionRequest.list_services
const FILE_CONTAINING_SYMBOL = 4; // ServerReflectionRequest.file_containing_symbol
const FILE_DESCRIPTOR_RESPONSE = 4; // ServerReflectionResponse.file_descriptor_response
const LIST_SERVICES_RESPONSE = 6; // ServerReflectionResponse.list_services_response

function serviceNames(res: Map<number, Buffer[]>): string[] {
  const list = res.get(LIST_SERVICES_RESPONSE)?.[0];
  assert.ok(list, 'a list_services_response');
  return (fields(list).get(1) ?? []).map((s) => fields(s).get(1)?.[0]?.toString() ?? '').sort();
}

function healthCheck(srv: TestServer, service: string): Promise<string> {
  const check = healthService.Check!;
  const c = new grpc.Client(srv.address, srv.credentials(), CHANNEL_OPTIONS);
  return new Promise((resolve, reject) =>
    c.makeUnaryRequest(
      check.path,
      check.requestSerialize,
      (b: Buffer) => check.responseDeserialize(b) as { status: string },
      { service },
      (err, res) => {
        c.close();
        if (err) reject(err);
        else resolve(res?.status ?? 'none');
      },
    ),
  );
}

describe('health and reflection', () => {
  let pki: TestPki;
  let srv: TestServer;
  before(async () => {
    pki = makeTestPki();
    srv = await startTestServer(new FakeOperator(scenarioEngine()), pki);
  });
  after(async () => {
    await srv.stop();
    pki.cleanup();
  });

  it('grpc.health.v1.Health reports SERVING, and follows setStatus', async () => {
    assert.equal(await healthCheck(srv, ''), 'SERVING');
    assert.equal(await healthCheck(srv, 'palisade.v1.Integrations'), 'SERVING');
    await assert.rejects(
      healthCheck(srv, 'no.such.Service'),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
    );
    srv.health.setAll('NOT_SERVING');
    assert.equal(await healthCheck(srv, ''), 'NOT_SERVING');
    assert.equal(await healthCheck(srv, 'palisade.v1.Integrations'), 'NOT_SERVING');
    srv.health.setAll('SERVING');
  });

  for (const version of ['v1', 'v1alpha'] as const)
    it(`reflection (${version}) lists palisade.v1.Integrations and the health service`, async () => {
      const names = serviceNames(await reflect(srv, version, lenField(LIST_SERVICES, '*')));
      for (const s of [
        'palisade.v1.Integrations',
        'palisade.v1.Distribution',
        'grpc.health.v1.Health',
      ])
        assert.ok(names.includes(s), `${s} in ${names.join(', ')}`);
    });

  it('reflection describes palisade.v1.Integrations (a file descriptor naming its methods)', async () => {
    const res = await reflect(
      srv,
      'v1',
      lenField(FILE_CONTAINING_SYMBOL, 'palisade.v1.Integrations'),
    );
    const files = fields(res.get(FILE_DESCRIPTOR_RESPONSE)?.[0] ?? Buffer.alloc(0)).get(1) ?? [];
    assert.ok(files.length > 0, 'file descriptors');
    const text = Buffer.concat(files).toString('latin1');
    for (const m of [
      'ListIdentities',
      'WatchIdentities',
      'GetEndpointPolicy',
      'Simulate',
      'ListPolicyStatus',
      'PolicyEntry',
    ])
      assert.ok(text.includes(m), `${m} described`);
  });
});
