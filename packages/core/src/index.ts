/**
 * @palisade/core — pure policy logic: labels, selectors, identities, the incremental
 * policy compiler and the evaluator. No I/O: no kube client, no gRPC, no filesystem.
 */
export * from './errors.js';
export * from './model/labels.js';
export * from './model/selector.js';
export * from './model/cidr.js';
export * from './model/ports.js';
export * from './schema/common.js';
export * from './schema/networkPolicy.js';
export * from './schema/objects.js';
export * from './schema/palisadePolicy.js';
export * from './policy/types.js';
export * from './policy/fromNetworkPolicy.js';
export * from './policy/fromPalisadePolicy.js';
export * from './identity/reserved.js';
export * from './identity/labelFilter.js';
export * from './identity/securityLabels.js';
export * from './identity/allocator.js';
export * from './compiler/inputs.js';
export * from './compiler/mapState.js';
export * from './compiler/compiledState.js';
export * from './compiler/snapshot.js';
export * from './compiler/engine.js';
export * from './evaluator/evaluator.js';
export * from './evaluator/conntrack.js';
export * from './evaluator/explainDecision.js';
export * from './objects/parseObject.js';
export * from './objects/feedEngine.js';
export * from './crd/crdFromSchema.js';
export * from './schema/securityIdentity.js';
export * from './schema/limits.js';
export * from './retry/backoff.js';
