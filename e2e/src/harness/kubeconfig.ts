/**
 * kubeconfig files for the control plane: one cluster, one user, one context.
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** How the user authenticates: a client certificate or a bearer token. */
export type KubeconfigUser =
  { readonly clientCertificate: string; readonly clientKey: string } | { readonly token: string };

/** Writes a kubeconfig (mode 0600) whose only context talks to `server` as `user`. */
export async function writeKubeconfig(
  path: string,
  o: { server: string; caFile: string; userName: string; user: KubeconfigUser },
): Promise<void> {
  const user =
    'token' in o.user
      ? { token: o.user.token }
      : { 'client-certificate': o.user.clientCertificate, 'client-key': o.user.clientKey };
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'palisade-e2e', cluster: { server: o.server, 'certificate-authority': o.caFile } },
    ],
    users: [{ name: o.userName, user }],
    contexts: [{ name: 'palisade-e2e', context: { cluster: 'palisade-e2e', user: o.userName } }],
    'current-context': 'palisade-e2e',
  };
  await writeFile(path, stringify(doc), { mode: 0o600 });
}
