/**
 * Where the .proto files are, and the options every loader of them uses (the generated
 * types in `src/gen/` are made with the same: 64-bit integers as numbers, enums as
 * strings, defaults filled in, oneofs named).
 */
import { fileURLToPath } from 'node:url';

/** The include directory (`protos/` at the repository root). */
export const PROTO_DIR = fileURLToPath(new URL('../../../protos', import.meta.url));

/** The service and message files, relative to `PROTO_DIR`. */
export const PROTO_FILES = [
  'palisade/v1/compiled.proto',
  'palisade/v1/distribution.proto',
  'palisade/v1/certificates.proto',
  'palisade/v1/integrations.proto',
] as const;

/** Conversion options shared by proto-loader and protobufjs `toObject`. */
export const LOADER_OPTIONS = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
} as const;
