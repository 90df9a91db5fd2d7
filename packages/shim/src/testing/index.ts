/** Test kit of the shim for other packages' suites: test nodes and the probe agent. */
export * from './nodeFixture.js';
export * from './probeAgent.js';
