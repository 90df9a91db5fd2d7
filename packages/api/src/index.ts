/**
 * @palisade/api — the gRPC contract (generated wire types in `gen/`, never edited) and
 * the converters between it and the core's types.
 */
export * from './errors.js';
export * from './protoFiles.js';
export * from './codec.js';
export * from './convert.js';
export * from './services.js';
export type * from './gen/palisade/v1/StateChange.js';
export type * from './gen/palisade/v1/OperatorMessage.js';
export type * from './gen/palisade/v1/NodeMessage.js';
export type * from './gen/palisade/v1/Hello.js';
export type * from './gen/palisade/v1/Ack.js';
export type * from './gen/palisade/v1/Delta.js';
export type * from './gen/palisade/v1/SnapshotChunk.js';
export type * from './gen/palisade/v1/Synced.js';
export type * from './gen/palisade/v1/IssueRequest.js';
export type * from './gen/palisade/v1/IssueResponse.js';
export type * from './gen/palisade/v1/Identity.js';
export type * from './gen/palisade/v1/PolicyEntry.js';
export type * from './gen/palisade/v1/PolicyKey.js';
export type * from './gen/palisade/v1/IdentityEvent.js';
export type * from './gen/palisade/v1/EndpointPolicy.js';
export type * from './gen/palisade/v1/SimulateRequest.js';
export type * from './gen/palisade/v1/SimulateResponse.js';
export type * from './gen/palisade/v1/PolicyStatus.js';
export type * from './gen/palisade/v1/ListIdentitiesResponse.js';
export type * from './gen/palisade/v1/ListPolicyStatusResponse.js';
export type * from './gen/palisade/v1/GetEndpointPolicyRequest.js';
export type * from './gen/palisade/v1/ListIdentitiesRequest.js';
export type * from './gen/palisade/v1/Integrations.js';
export type * from './gen/palisade/v1/Certificates.js';
export type * from './gen/palisade/v1/Distribution.js';
