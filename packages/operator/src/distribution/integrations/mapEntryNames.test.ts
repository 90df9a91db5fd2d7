import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';
import { service as healthService } from 'grpc-health-check';
import { packageDefinition } from '@palisade/api';
import { mapEntryName, repairMapEntryNames } from './mapEntryNames.js';

function decode(b: Buffer): IFileDescriptorProto {
  return descriptor.FileDescriptorProto.decode(b) as IFileDescriptorProto;
}

describe('map entry names for reflection', () => {
  it('names entries as protoc does', () => {
    assert.equal(mapEntryName('statuses'), 'StatusesEntry');
    assert.equal(mapEntryName('foo_bar'), 'FooBarEntry');
    assert.equal(mapEntryName('fooBar2'), 'FooBar2Entry');
  });

  it('repairs grpc.health.v1.HealthListResponse.statuses', () => {
    const files = healthService.Check!.requestType.fileDescriptorProtos;
    const health = files
      .map(repairMapEntryNames)
      .map(decode)
      .find((f) => f.package === 'grpc.health.v1');
    const list = health?.messageType?.find((m) => m.name === 'HealthListResponse');
    assert.ok(list, 'HealthListResponse described');
    assert.deepEqual(
      list.nestedType?.map((n) => n.name),
      ['StatusesEntry'],
    );
    assert.equal(list.field?.find((f) => f.name === 'statuses')?.typeName, 'StatusesEntry');
  });

  it('leaves files without maps untouched (the same Buffer)', () => {
    const def = packageDefinition()['palisade.v1.SimulateRequest'];
    assert.ok(def && 'fileDescriptorProtos' in def);
    for (const b of def.fileDescriptorProtos as Buffer[]) assert.equal(repairMapEntryNames(b), b);
  });
});
