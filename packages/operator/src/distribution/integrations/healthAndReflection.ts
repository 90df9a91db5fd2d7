/**
 * gRPC health (`grpc.health.v1.Health`, from grpc-health-check) and server reflection
 * (`grpc.reflection.v1` and `v1alpha`, from @grpc/reflection) on the operator's server, so
 * load balancers, probes and `grpcurl` work without the .proto files.
 *
 * Reflection describes every `palisade.v1` service of `packageDefinition()` and the health
 * service itself, with the map entry names protoc would give (see `mapEntryNames.ts`).
 */
import type * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import {
  HealthImplementation,
  service as healthService,
  type ServingStatus,
} from 'grpc-health-check';
import { packageDefinition } from '@palisade/api';
import { repairMapEntryNames } from './mapEntryNames.js';

/** The fully qualified name of the integrators' service. */
export const INTEGRATIONS_SERVICE = 'palisade.v1.Integrations';

/** Options of `addHealthAndReflection`. */
export interface HealthAndReflectionOptions {
  /**
   * The services whose health is reported, besides the server as a whole (`""`); each
   * starts in `initialStatus`. Default: `palisade.v1.Integrations`.
   */
  readonly services?: readonly string[];
  /** Default SERVING. */
  readonly initialStatus?: ServingStatus;
}

/** The health half, to change what probes see (e.g. NOT_SERVING while shutting down). */
export interface HealthHandle {
  /** Sets the status of one service (`""` is the server as a whole). */
  setStatus(service: string, status: ServingStatus): void;
  /** Sets the status of the server and of every service it was created with. */
  setAll(status: ServingStatus): void;
}

type ReflectedDefinition = ConstructorParameters<typeof ReflectionService>[0];

/**
 * The reflection definition: the palisade.v1 package plus the health service's file (a
 * message type of health.proto carries that file's descriptor, service included), with
 * protoc's map entry names so Go-based clients accept it. Copies; shares nothing mutable.
 */
function reflectedDefinition(): ReflectedDefinition {
  const check = healthService.Check;
  const all: ReflectedDefinition = check
    ? { ...packageDefinition(), 'grpc.health.v1.HealthCheckRequest': check.requestType }
    : { ...packageDefinition() };
  const out: ReflectedDefinition = {};
  for (const [name, def] of Object.entries(all)) out[name] = withRepairedFiles(def);
  return out;
}

/** A message or enum definition with repaired files; a service as is (its types carry them). */
function withRepairedFiles(def: ReflectedDefinition[string]): ReflectedDefinition[string] {
  if (!isTypeDefinition(def)) return def;
  return { ...def, fileDescriptorProtos: def.fileDescriptorProtos.map(repairMapEntryNames) };
}

function isTypeDefinition(
  def: ReflectedDefinition[string],
): def is Extract<ReflectedDefinition[string], { format: string }> {
  return typeof (def as { format?: unknown }).format === 'string';
}

/** Adds `grpc.health.v1.Health` and server reflection to `server` (before it starts). */
export function addHealthAndReflection(
  server: grpc.Server,
  options: HealthAndReflectionOptions = {},
): HealthHandle {
  const names = ['', ...(options.services ?? [INTEGRATIONS_SERVICE])];
  const initial = options.initialStatus ?? 'SERVING';
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, initial])));
  health.addToServer(server);
  new ReflectionService(reflectedDefinition()).addToServer(server);
  return {
    setStatus: (service, status) => health.setStatus(service, status),
    setAll: (status) => {
      for (const n of names) health.setStatus(n, status);
    },
  };
}
