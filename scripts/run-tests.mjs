#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist/**/*.test.js and the cluster suites in
// e2e/dist/**/*.test.js) with node's test runner. Privileged tests (*.privileged.test.js)
// are included: they skip themselves with a message when not run as root. Arguments filter
// by path: `node scripts/run-tests.mjs e2e/` or `... packages/core/ crds`.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : n.endsWith('.test.js') ? [p] : [];
  });
}

const filter = process.argv.slice(2);
const files = [
  ...readdirSync('packages').map((p) => join('packages', p, 'dist')),
  join('e2e', 'dist'),
]
  .filter((d) => {
    try {
      return statSync(d).isDirectory();
    } catch {
      return false;
    }
  })
  .flatMap(walk)
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files found: run `pnpm build` first');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
