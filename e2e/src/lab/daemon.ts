#!/usr/bin/env node
/**
 * The process that holds a lab for `palisade lab up`: starts it (progress on stdout, which
 * `lab up` shows), writes `<dir>/state.json` once ready, then keeps it running like a node's
 * supervisor would: an operator or shim that exits is started again after a second. SIGTERM
 * or SIGINT take it down (`lab down` sends SIGTERM and then sweeps).
 *
 *   node e2e/dist/lab/daemon.js --dir DIR [--nodes N] [--identity-store crd|redis]
 */
import { parseArgs } from 'node:util';
import { Lab } from './lab.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.lab' },
    nodes: { type: 'string', default: '2' },
    'identity-store': { type: 'string', default: 'crd' },
  },
});
const store = values['identity-store'];
if (store !== 'crd' && store !== 'redis') {
  console.log(`lab: --identity-store must be crd or redis, got ${String(store)}`);
  process.exit(2);
}
const log = (line: string): void => {
  console.log(`${new Date().toISOString()} ${line}`);
};

const lab = await Lab.up({
  dir: values.dir,
  nodes: Number(values.nodes),
  identityStore: store,
  log,
}).catch((err: unknown) => {
  log(`lab: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

let stopping = false;
const supervise = setInterval(() => {
  void (async () => {
    if (stopping) return;
    let restarted = false;
    if (lab.operator?.exitInfo()) {
      log('lab: the operator exited; starting it again');
      await lab.startOperator().catch((e: unknown) => log(`lab: operator: ${String(e)}`));
      restarted = true;
    }
    for (const n of lab.nodes)
      if (!stopping && n.shim?.exitInfo()) {
        log(`lab: the shim of ${n.name} exited; starting it again`);
        n.shim = undefined;
        await lab.startShim(n).catch((e: unknown) => log(`lab: shim ${n.name}: ${String(e)}`));
        restarted = true;
      }
    if (restarted && !stopping) lab.writeState();
  })();
}, 1000);

const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(supervise);
  log(`lab: ${signal}: taking the lab down`);
  void lab.down().then((left) => {
    const rest =
      left.namespaces.length + left.links.length + left.processes.length + Number(left.pins);
    log(rest === 0 ? 'lab: down, nothing left behind' : `lab: down, left: ${JSON.stringify(left)}`);
    process.exit(rest === 0 ? 0 : 1);
  });
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
