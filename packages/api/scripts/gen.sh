#!/usr/bin/env bash
# Regenerates src/gen/ (the wire types) from protos/palisade/v1/*.proto. The output is
# committed; `protos.test.ts` fails when it is stale.
#   bash packages/api/scripts/gen.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/src/gen}"
rm -rf "$out"
cd "$root"
"$here/node_modules/.bin/proto-loader-gen-types" \
  --longs=Number --enums=String --defaults --oneofs --includeComments \
  --grpcLib=@grpc/grpc-js -I protos -O "$out" \
  palisade/v1/compiled.proto palisade/v1/distribution.proto \
  palisade/v1/certificates.proto palisade/v1/integrations.proto >/dev/null
# The generator writes CommonJS-style relative imports; this package is ESM (NodeNext).
find "$out" -name '*.ts' -print0 | xargs -0 sed -i -E "s#(from '\\./[^']*|from '\\.\\./[^']*)';#\\1.js';#"
