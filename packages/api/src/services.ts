/**
 * The gRPC services, loaded from the .proto files with @grpc/proto-loader, typed with the
 * generated `ProtoGrpcType`s.
 *
 * `Distribution.Subscribe` is served and consumed as raw bytes in the server → shim
 * direction (`distributionService`, `DistributionRawClient`): the operator writes frames
 * it built from pre-encoded pieces (`codec.ts`), and the shim decodes them itself.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, PROTO_FILES } from './protoFiles.js';
import type { ProtoGrpcType as Distribution } from './gen/distribution.js';
import type { ProtoGrpcType as Certificates } from './gen/certificates.js';
import type { ProtoGrpcType as Integrations } from './gen/integrations.js';

/** Every palisade.v1 service and message definition. */
export type PalisadeGrpc = Distribution & Certificates & Integrations;

let loaded: { pkg: PalisadeGrpc; definition: protoLoader.PackageDefinition } | undefined;

function load(): { pkg: PalisadeGrpc; definition: protoLoader.PackageDefinition } {
  if (!loaded) {
    const definition = protoLoader.loadSync([...PROTO_FILES], {
      ...LOADER_OPTIONS,
      includeDirs: [...LOADER_OPTIONS.includeDirs],
    });
    loaded = {
      definition,
      pkg: grpc.loadPackageDefinition(definition) as unknown as PalisadeGrpc,
    };
  }
  return loaded;
}

/** The loaded package (service constructors, `.service` definitions). */
export function palisadeGrpc(): PalisadeGrpc {
  return load().pkg;
}

/** The proto-loader package definition (for server reflection). */
export function packageDefinition(): protoLoader.PackageDefinition {
  return load().definition;
}

const passThrough = (b: Buffer): Buffer => b;

/** `Distribution` with OperatorMessages as raw bytes (pre-encoded by the operator). */
export function distributionService(): grpc.ServiceDefinition {
  const svc = palisadeGrpc().palisade.v1.Distribution.service;
  const sub = svc.Subscribe;
  return {
    Subscribe: {
      ...sub,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  };
}

/** A client of `distributionService` (responses arrive as Buffers, for `decodeOperatorMessage`). */
export function distributionRawClient(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(distributionService(), 'palisade.v1.Distribution');
}

/** The full gRPC method path of `Distribution.Subscribe`. */
export const SUBSCRIBE_PATH = '/palisade.v1.Distribution/Subscribe';
