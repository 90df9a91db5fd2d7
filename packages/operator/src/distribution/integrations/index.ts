/** The integrators' read-only gRPC API, with gRPC health and server reflection. */
export * from './integrationsContext.js';
export * from './integrationsError.js';
export * from './integrationsService.js';
export * from './healthAndReflection.js';
export type { IdentityWatchOptions } from './identityWatch.js';
