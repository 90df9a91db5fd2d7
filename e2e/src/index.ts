/**
 * @palisade/e2e — a real control plane (etcd + kube-apiserver with RBAC) for the cluster
 * test suites and the lab, and those suites.
 */
export * from './harness/controlPlane.js';
export * from './harness/errors.js';
