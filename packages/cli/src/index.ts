/** @palisade/cli — the simulator and the command, as a library for tests and tools. */
export { run } from './main.js';
export { Simulation, type ProbePort, type SimPod, type SimResult } from './simulation.js';
export { explainFlow, type FlowExplanation } from './explain.js';
export { loadObjects, parseText, type LoadedObject } from './load.js';
export { renderJson, renderTable, type VerdictLine } from './render.js';
export { renderCrds } from './commands/gen.js';
