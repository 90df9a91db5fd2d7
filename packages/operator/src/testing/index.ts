/** Test support shared with the e2e suites (`@palisade/operator/testing`): not for production code. */
export * from './redisServer.js';
export * from './memoryStore.js';
export * from '../identity/storeContract.js';
