/**
 * The operator's gRPC server: `Distribution.Subscribe` (node streams, mutual TLS with the
 * node name taken from the client certificate), `Certificates.Issue` (bootstrap), and
 * whatever else `main.ts` adds (the integrators' API, health, reflection).
 *
 * A stream is refused — with a status, and counted by reason — when the client shows no
 * certificate, one the CA did not sign, an expired one, one that is not a node's, or a
 * Hello naming another node; and while this replica does not lead.
 */
import * as grpc from '@grpc/grpc-js';
import {
  distributionService,
  palisadeGrpc,
  type IssueRequest__Output,
  type IssueResponse,
  type NodeMessage__Output,
} from '@palisade/api';
import { OperatorError } from '../errors.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Distributor, NodeSession } from './distributor.js';
import { serverCredentials } from './tlsCredentials.js';

/** The result of checking a client certificate. */
export type PeerCheckResult = { ok: true; node: string } | { ok: false; reason: string };

/** Options of the server. */
export interface DistributionServerOptions {
  /** `host:port` to listen on (port 0: any free port). */
  readonly address: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly distributor: Distributor;
  /** Checks a node's client certificate (`pki/peer.ts`). */
  readonly checkPeer: (peer: unknown) => PeerCheckResult;
  /** Signs node certificates (`pki/bootstrap.ts`); absent: bootstrap is not offered. */
  readonly issuer?: { issue(req: IssueRequest__Output): Promise<IssueResponse> };
  /** Who leads, for refusals from a standby. */
  readonly leader?: () => string | undefined;
  /** Adds more services before the server starts. */
  readonly configure?: (server: grpc.Server) => void;
  /** Time a new stream has to send its Hello (default 10 s). */
  readonly helloTimeoutMs?: number;
  readonly metrics?: OperatorMetrics;
  readonly logger?: Logger;
}

/** Server options every palisade gRPC server uses: keepalives, and no silent idle drops. */
export const SERVER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 256 * 1024 * 1024,
};

/** The gRPC server of the operator. */
export class DistributionServer {
  private readonly server = new grpc.Server(SERVER_CHANNEL_OPTIONS);
  private readonly log: Logger;
  private boundPort = 0;

  constructor(private readonly o: DistributionServerOptions) {
    this.log = o.logger ?? silentLogger;
    this.server.addService(distributionService(), {
      Subscribe: (call: grpc.ServerDuplexStream<NodeMessage__Output, Buffer>) =>
        this.subscribe(call),
    });
    const issuer = o.issuer;
    if (issuer)
      this.server.addService(palisadeGrpc().palisade.v1.Certificates.service, {
        Issue: (
          call: grpc.ServerUnaryCall<IssueRequest__Output, IssueResponse>,
          cb: grpc.sendUnaryData<IssueResponse>,
        ) => {
          issuer.issue(call.request).then(
            (res) => cb(null, res),
            (err: unknown) => {
              const code = (err as { grpcCode?: grpc.status }).grpcCode ?? grpc.status.INTERNAL;
              this.o.metrics?.streamsRefused.inc({ reason: `bootstrap-${grpc.status[code]}` });
              this.log.warn('certificate request refused', {
                node: call.request.node,
                error: errorMessage(err),
              });
              cb({ code, details: errorMessage(err) });
            },
          );
        },
      });
    o.configure?.(this.server);
  }

  /** The port listened on (after `start`). */
  get port(): number {
    return this.boundPort;
  }

  /** Binds and starts serving. Throws DISTRIBUTION when the address cannot be bound. */
  async start(): Promise<number> {
    const creds = serverCredentials(this.o.caPem, this.o.certPem, this.o.keyPem);
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.o.address, creds, (err, port) =>
        err
          ? reject(
              new OperatorError(
                'DISTRIBUTION',
                `cannot listen on ${this.o.address}: ${err.message}`,
                {
                  cause: err,
                },
              ),
            )
          : resolve(port),
      ),
    );
    this.log.info('gRPC server listening', { address: this.o.address, port: this.boundPort });
    return this.boundPort;
  }

  /** Stops: streams end (shims reconnect elsewhere), then the server. */
  async stop(graceMs = 2000): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private refuse(
    call: grpc.ServerDuplexStream<NodeMessage__Output, Buffer>,
    code: grpc.status,
    reason: string,
    details: string,
  ): void {
    this.o.metrics?.streamsRefused.inc({ reason });
    this.log.warn('node stream refused', { reason, details, peer: call.getPeer() });
    call.emit('error', { code, details });
  }

  private subscribe(call: grpc.ServerDuplexStream<NodeMessage__Output, Buffer>): void {
    // grpc-js shows the certificate only when TLS verified it against the CA (signature and
    // validity); anything else — none, expired, another CA — arrives here as no certificate.
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (!cert) {
      this.refuse(
        call,
        grpc.status.UNAUTHENTICATED,
        'no-valid-certificate',
        'no client certificate, or one that is expired or not signed by the palisade CA',
      );
      return;
    }
    const peer = this.o.checkPeer(cert);
    if (!peer.ok) {
      this.refuse(
        call,
        grpc.status.UNAUTHENTICATED,
        peer.reason,
        `client certificate refused: ${peer.reason}`,
      );
      return;
    }
    const d = this.o.distributor;
    if (!d.leading) {
      const leader = this.o.leader?.();
      this.refuse(
        call,
        grpc.status.UNAVAILABLE,
        'not-leader',
        `this operator replica does not lead${leader ? `; the leader is ${leader}` : ''}`,
      );
      return;
    }
    const node = peer.node;
    let detach: (() => void) | undefined;
    let ended = false;
    const session: NodeSession = {
      write: (frame) => call.write(frame),
      onDrain: (cb) => void call.once('drain', cb),
      close: (reason) => {
        if (ended) return;
        ended = true;
        detach = undefined;
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: reason });
      },
    };
    const helloTimer = setTimeout(() => {
      if (!detach && !ended) {
        ended = true;
        this.refuse(
          call,
          grpc.status.DEADLINE_EXCEEDED,
          'no-hello',
          'no Hello within the deadline',
        );
      }
    }, this.o.helloTimeoutMs ?? 10_000);
    const done = (): void => {
      clearTimeout(helloTimer);
      ended = true;
      detach?.();
      detach = undefined;
    };
    call.on('data', (m: NodeMessage__Output) => {
      if (ended) return;
      try {
        switch (m.body) {
          case 'hello': {
            const h = m.hello;
            if (!h || detach) return;
            if (h.node !== node) {
              clearTimeout(helloTimer);
              ended = true;
              this.refuse(
                call,
                grpc.status.PERMISSION_DENIED,
                'wrong-node',
                `the certificate is for node ${node}, not ${h.node}`,
              );
              return;
            }
            clearTimeout(helloTimer);
            if (!d.leading) {
              ended = true;
              this.refuse(call, grpc.status.UNAVAILABLE, 'not-leader', 'leadership lost');
              return;
            }
            call.sendMetadata(new grpc.Metadata());
            detach = d.attach(node, { epoch: h.epoch, revision: h.revision }, session);
            this.log.info('node stream open', { node, epoch: h.epoch, revision: h.revision });
            return;
          }
          case 'ack':
            if (detach && m.ack) d.ack(node, session, m.ack.revision);
            return;
          case 'resync':
            if (detach) d.resync(node, session, m.resync?.reason ?? '');
            return;
          case undefined:
            return;
        }
      } catch (err) {
        this.log.error('node stream message failed', { node, error: errorMessage(err) });
      }
    });
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('cancelled', done);
    call.on('error', done);
    call.on('close', done);
  }
}
