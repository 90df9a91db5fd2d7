/**
 * @palisade/shim — the node shim: the eBPF datapath's loader and maps, the reconciler
 * that keeps them equal to compiled policy, the local API, flow records and the CNI plugin.
 */
export * from './errors.js';
export * from './log.js';
export * from './native/addon.js';
export * from './bpf/layouts.js';
export * from './bpf/entryTable.js';
export * from './bpf/maps.js';
export * from './bpf/hooks.js';
export * from './bpf/datapath.js';
export * from './reconciler/endpoint.js';
export * from './reconciler/desired.js';
export * from './reconciler/diff.js';
export * from './reconciler/reconciler.js';
export * from './reconciler/registry.js';
export * from './flows/flowBuffer.js';
export * from './flows/flowRecord.js';
export * from './source/localSource.js';
export * from './source/snapshotSource.js';
export * from './shim.js';
export * from './api/server.js';
export * from './api/client.js';
