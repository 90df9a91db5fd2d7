/**
 * Repairs the map entry names in file descriptors made by protobufjs, for reflection.
 *
 * protoc names the implicit message of a `map<K, V> statuses` field `StatusesEntry`;
 * protobufjs's descriptor export (which @grpc/reflection serves) names it `Statuses`.
 * Clients built on Go's protobuf (grpcurl, Postman's and Kreya's reflection, Evans) then
 * refuse the whole file ("invalid map: incorrect implicit map entry name",
 * fullstorydev/grpcurl#519) — grpc.health.v1 has such a map (`HealthListResponse.statuses`).
 * This renames each map entry type to protoc's name and points its field at it.
 */
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';

/** protoc's name for the entry type of a map field: `foo_bar` → `FooBarEntry`. */
export function mapEntryName(field: string): string {
  const camel = field.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

/** Renames the map entries of one message and its nested messages; true when any changed. */
function repairMessage(m: IDescriptorProto): boolean {
  let changed = false;
  for (const nested of m.nestedType ?? []) changed = repairMessage(nested) || changed;
  for (const entry of m.nestedType ?? []) {
    if (!entry.options?.mapEntry || !entry.name) continue;
    const old = entry.name;
    const field = (m.field ?? []).find(
      (f) => f.typeName === old || f.typeName?.endsWith(`.${m.name ?? ''}.${old}`),
    );
    if (!field?.name || !field.typeName) continue;
    const want = mapEntryName(field.name);
    if (want === old) continue;
    entry.name = want;
    field.typeName = `${field.typeName.slice(0, field.typeName.length - old.length)}${want}`;
    changed = true;
  }
  return changed;
}

const repaired = new WeakMap<Buffer, Buffer>();

/** One encoded FileDescriptorProto with protoc's map entry names (the same Buffer when nothing changes). */
export function repairMapEntryNames(encoded: Buffer): Buffer {
  const done = repaired.get(encoded);
  if (done) return done;
  const file = descriptor.FileDescriptorProto.decode(encoded) as IFileDescriptorProto;
  let changed = false;
  for (const m of file.messageType ?? []) changed = repairMessage(m) || changed;
  const out = changed ? Buffer.from(descriptor.FileDescriptorProto.encode(file).finish()) : encoded;
  repaired.set(encoded, out);
  return out;
}
