/**
 * An example client of the integrators' API, typed with the generated client:
 *
 *     node packages/operator/dist/distribution/integrations/exampleClient.js \
 *       --address palisade-operator.palisade-system.svc:9443 --ca-file ca.crt \
 *       --token-file token list-identities [k8s:app=web …]
 *     … simulate dev/client prod/web TCP 80
 *
 * Authenticates with a Kubernetes bearer token (`--token-file`) or a client certificate
 * (`--cert-file`, `--key-file`) signed by the operator's CA. Prints the answer as JSON;
 * on a refusal prints `error: <CODE>: <details>` and exits 1. See docs/integrations.md.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { palisadeGrpc, type IntegrationsClient } from '@palisade/api';

const USAGE = `usage: exampleClient --address HOST:PORT --ca-file CA [--token-file T | --cert-file C --key-file K]
                     [--server-name NAME] <list-identities [LABEL…] | simulate FROM TO PROTO PORT>`;

/** What the command line asks for. */
interface ExampleArgs {
  readonly address: string;
  readonly credentials: grpc.ChannelCredentials;
  readonly options: grpc.ChannelOptions;
  readonly command: readonly string[];
}

/** Parses the command line; throws an Error carrying the usage text when it is wrong. */
function parseExampleArgs(argv: readonly string[]): ExampleArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      address: { type: 'string' },
      'ca-file': { type: 'string' },
      'token-file': { type: 'string' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
      'server-name': { type: 'string' },
    },
  });
  const caFile = values['ca-file'];
  if (!values.address || !caFile || positionals.length === 0) throw new Error(USAGE);
  const certFile = values['cert-file'];
  const keyFile = values['key-file'];
  let credentials = grpc.credentials.createSsl(
    readFileSync(caFile),
    keyFile ? readFileSync(keyFile) : null,
    certFile ? readFileSync(certFile) : null,
  );
  const tokenFile = values['token-file'];
  if (tokenFile) {
    const token = readFileSync(tokenFile, 'utf8').trim();
    const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      callback(null, md);
    });
    credentials = grpc.credentials.combineChannelCredentials(credentials, bearer);
  }
  const serverName = values['server-name'];
  const options = serverName ? { 'grpc.ssl_target_name_override': serverName } : {};
  return { address: values.address, credentials, options, command: positionals };
}

/** Runs one command against the API and resolves to its answer. */
function runExample(client: IntegrationsClient, command: readonly string[]): Promise<unknown> {
  const [name, ...rest] = command;
  return new Promise((resolve, reject) => {
    const done = (err: grpc.ServiceError | null, res?: unknown): void =>
      err ? reject(err) : resolve(res);
    if (name === 'list-identities') client.listIdentities({ labelFilter: rest }, done);
    else if (name === 'simulate' && rest.length === 4) {
      const [from, to, protocol, port] = rest as [string, string, string, string];
      client.simulate({ from, to, protocol, port: Number(port) }, done);
    } else reject(new Error(USAGE));
  });
}

async function main(): Promise<number> {
  const args = parseExampleArgs(process.argv.slice(2));
  const Integrations = palisadeGrpc().palisade.v1.Integrations;
  const client = new Integrations(args.address, args.credentials, args.options);
  try {
    process.stdout.write(`${JSON.stringify(await runExample(client, args.command), null, 2)}\n`);
    return 0;
  } finally {
    client.close();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    const e: Partial<grpc.ServiceError> = err instanceof Error ? err : new Error(String(err));
    const what = typeof e.code === 'number' ? `${grpc.status[e.code]}: ${e.details}` : e.message;
    process.stderr.write(`error: ${what}\n`);
    process.exitCode = 1;
  },
);
