#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: lint, format, generated-file drift,
# and every test (unit, property, upstream fixtures, differential against cyclonus, and the
# e2e suites against a real etcd + kube-apiserver, see docs/control-plane-build.md).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"
bash scripts/install-cyclonus.sh >/dev/null

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
step "lint (eslint, typed)"
pnpm -s lint
step "format (prettier --check)"
pnpm -s format:check
step "generated CRDs are current"
pnpm -s palisade gen crds --check
step "tests"
pnpm -s test:unit
