/**
 * The certificate bootstrap call: `palisade.v1.Certificates/Issue` over TLS without a
 * client certificate (the shim has none yet), the operator checked against its CA.
 */
import * as grpc from '@grpc/grpc-js';
import { palisadeGrpc } from '@palisade/api';
import { ShimError } from '../errors.js';
import { channelOptions } from './channel.js';
import type { Issuer } from './credentials.js';

/** Options of `grpcIssuer`. */
export interface GrpcIssuerOptions {
  /** The operator's `host:port`. */
  readonly target: string;
  /** The name the operator's certificate must carry, when not the target's host. */
  readonly tlsServerName?: string;
  /** Deadline of one call (default 15 s). */
  readonly timeoutMs?: number;
}

/** An `Issuer` calling the operator; each call opens and closes its own channel. */
export function grpcIssuer(o: GrpcIssuerOptions): Issuer {
  return (request, ca) =>
    new Promise((resolve, reject) => {
      const Certificates = palisadeGrpc().palisade.v1.Certificates;
      const client = new Certificates(
        o.target,
        grpc.credentials.createSsl(ca),
        channelOptions(o.tlsServerName),
      );
      client.Issue(request, { deadline: Date.now() + (o.timeoutMs ?? 15_000) }, (err, response) => {
        client.close();
        if (err)
          reject(
            new ShimError(
              'CREDENTIALS',
              `certificate bootstrap at ${o.target} failed: ${err.message}`,
              { cause: err },
            ),
          );
        else if (!response)
          reject(new ShimError('CREDENTIALS', `certificate bootstrap at ${o.target}: no response`));
        else resolve(response);
      });
    });
}
