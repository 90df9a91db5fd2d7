/**
 * The distribution client's command-line flags, checked and turned into a configuration
 * (`--operator`, `--ca-file`, `--cert-file` + `--key-file` or `--token-file`,
 * `--tls-server-name`, `--bootstrap-operator`), and the credential source it names.
 */
import { ShimError } from '../errors.js';
import { BootstrapCredentials, FileCredentials, type CredentialSource } from './credentials.js';
import { grpcIssuer } from './issuer.js';

/** The flags as given (absent when not given). */
export interface DistributionFlags {
  readonly operator?: string | undefined;
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly tlsServerName?: string | undefined;
  readonly bootstrapOperator?: string | undefined;
}

/** Where the client certificate comes from. */
export type CredentialConfig =
  | {
      readonly kind: 'files';
      readonly caFile: string;
      readonly certFile: string;
      readonly keyFile: string;
    }
  | {
      readonly kind: 'token';
      readonly caFile: string;
      readonly tokenFile: string;
      /** Where `Certificates.Issue` is called (the operator's address unless told). */
      readonly bootstrapTarget: string;
    };

/** A checked configuration of the distribution client. */
export interface DistributionConfig {
  readonly target: string;
  readonly tlsServerName?: string;
  readonly credentials: CredentialConfig;
}

const SCHEMES = /^(dns|ipv4|ipv6|unix|unix-abstract):/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$/;

function checkTarget(flag: string, t: string): string {
  if (SCHEMES.test(t)) return t;
  const m = HOST_PORT.exec(t);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw new ShimError('INVALID_REQUEST', `--${flag} must be host:port, got ${JSON.stringify(t)}`);
  return t;
}

/**
 * Checks the flags. Returns undefined when the operator is not the policy source (then
 * no TLS flag may be given). Throws ShimError INVALID_REQUEST naming the flag.
 */
export function distributionConfig(f: DistributionFlags): DistributionConfig | undefined {
  const bad = (why: string): never => {
    throw new ShimError('INVALID_REQUEST', why);
  };
  if (f.operator === undefined) {
    const stray = (
      [
        ['ca-file', f.caFile],
        ['cert-file', f.certFile],
        ['key-file', f.keyFile],
        ['token-file', f.tokenFile],
        ['tls-server-name', f.tlsServerName],
        ['bootstrap-operator', f.bootstrapOperator],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (stray) bad(`--${stray[0]} is only for --operator`);
    return undefined;
  }
  const target = checkTarget('operator', f.operator);
  if (f.caFile === undefined) return bad("--operator needs --ca-file (the operator's CA)");
  if (f.tlsServerName === '') bad('--tls-server-name must not be empty');
  const base = {
    target,
    ...(f.tlsServerName !== undefined ? { tlsServerName: f.tlsServerName } : {}),
  };
  const files = f.certFile !== undefined || f.keyFile !== undefined;
  if (files && f.tokenFile !== undefined)
    bad('give --cert-file and --key-file, or --token-file, not both');
  if (files) {
    if (f.certFile === undefined || f.keyFile === undefined)
      return bad('--cert-file and --key-file go together');
    if (f.bootstrapOperator !== undefined) bad('--bootstrap-operator is only for --token-file');
    return {
      ...base,
      credentials: { kind: 'files', caFile: f.caFile, certFile: f.certFile, keyFile: f.keyFile },
    };
  }
  if (f.tokenFile === undefined)
    return bad('--operator needs --cert-file and --key-file, or --token-file');
  return {
    ...base,
    credentials: {
      kind: 'token',
      caFile: f.caFile,
      tokenFile: f.tokenFile,
      bootstrapTarget:
        f.bootstrapOperator !== undefined
          ? checkTarget('bootstrap-operator', f.bootstrapOperator)
          : target,
    },
  };
}

/** The credential source a configuration names, for this node. */
export function credentialSource(c: DistributionConfig, node: string): CredentialSource {
  const cc = c.credentials;
  switch (cc.kind) {
    case 'files':
      return new FileCredentials(cc);
    case 'token':
      return new BootstrapCredentials({
        node,
        caFile: cc.caFile,
        tokenFile: cc.tokenFile,
        issue: grpcIssuer({
          target: cc.bootstrapTarget,
          ...(c.tlsServerName !== undefined ? { tlsServerName: c.tlsServerName } : {}),
        }),
      });
  }
}
