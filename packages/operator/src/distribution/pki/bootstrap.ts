/**
 * Bootstrap of a node's client certificate (`Certificates.Issue`).
 *
 * A shim proves where it runs with its Pod's bound service-account token: the apiserver's
 * TokenReview says the token is authentic, belongs to the shim's ServiceAccount and is bound
 * to a Pod (name and uid); that Pod, read back, must still be the same object, run as the
 * shim's ServiceAccount and be scheduled to the node the certificate is asked for. Only then
 * is the shim's public key signed into a certificate for that node.
 *
 * Invariants: a token only ever gets a certificate for the node its Pod is scheduled to; the
 * token never appears in an error, a log line or a response; every refusal carries the gRPC
 * status to answer with.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { IssueRequest__Output, IssueResponse__Output } from '@palisade/api';
import { OperatorError, type OperatorErrorCode } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import type { KubeObject } from '../../kube/kubeObject.js';
import { Resources } from '../../kube/resources.js';
import { errorMessage, silentLogger, type Logger } from '../../log.js';
import { reviewToken, type AuthenticatedUser, type TokenReviewResult } from './bearer.js';
import type { CertificateAuthority } from './ca.js';
import {
  CertificateRequestError,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  issueNodeCertificate,
  nodeNameProblem,
  parseNodePublicKey,
  type NodeCertificate,
} from './certificates.js';

/** The shim's ServiceAccount name by default. */
export const DEFAULT_SHIM_SERVICE_ACCOUNT = 'palisade-shim';
/** TokenReview `extra` keys of a token bound to a Pod. */
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
/** See {@link POD_NAME_EXTRA}. */
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
/** Set by apiservers that record the node in bound tokens (Kubernetes ≥ 1.30). */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

/** The gRPC statuses a refused or failed bootstrap answers with. */
export type BootstrapGrpcCode =
  | GrpcStatus.INVALID_ARGUMENT
  | GrpcStatus.UNAUTHENTICATED
  | GrpcStatus.PERMISSION_DENIED
  | GrpcStatus.UNAVAILABLE
  | GrpcStatus.INTERNAL;

/** A certificate request refused (or that could not be checked), with its gRPC status. */
export class BootstrapError extends OperatorError {
  constructor(
    /** The gRPC status to answer with. */
    readonly grpcCode: BootstrapGrpcCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(operatorCode(grpcCode), message, options);
  }
}

function operatorCode(c: BootstrapGrpcCode): OperatorErrorCode {
  switch (c) {
    case GrpcStatus.UNAUTHENTICATED:
      return 'UNAUTHENTICATED';
    case GrpcStatus.PERMISSION_DENIED:
      return 'PERMISSION_DENIED';
    case GrpcStatus.UNAVAILABLE:
      return 'KUBE';
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.INTERNAL:
      return 'PKI';
  }
}

/** A ServiceAccount reference. */
export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

/** Options of {@link CertificateIssuer}. */
export interface CertificateIssuerOptions {
  readonly client: KubeClient;
  readonly ca: CertificateAuthority;
  /** The operator's namespace: the shim ServiceAccount's by default. */
  readonly namespace: string;
  /** The shim's ServiceAccount (default `<namespace>/palisade-shim`). */
  readonly shimServiceAccount?: ServiceAccountRef;
  /** Validity of node certificates (default 24 h). */
  readonly validityMs?: number;
  /** When set, the token must be meant for one of these audiences. */
  readonly audiences?: readonly string[];
  /** Default: silent. */
  readonly logger?: Logger;
  /** The clock, ms (default `Date.now`). */
  readonly now?: () => number;
}

interface PodObject extends KubeObject {
  spec?: { nodeName?: string; serviceAccountName?: string };
  status?: { phase?: string };
}

/** Signs node certificates for shims that prove, with a bound token, which node they run on. */
export class CertificateIssuer {
  private readonly sa: ServiceAccountRef;
  private readonly username: string;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: CertificateIssuerOptions) {
    this.sa = opts.shimServiceAccount ?? {
      namespace: opts.namespace,
      name: DEFAULT_SHIM_SERVICE_ACCOUNT,
    };
    this.username = `system:serviceaccount:${this.sa.namespace}:${this.sa.name}`;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Checks the request and signs the node's certificate. Rejects with {@link BootstrapError}:
   * INVALID_ARGUMENT for a bad node name or key, UNAUTHENTICATED for a token that is not
   * accepted or not bound to a live Pod, PERMISSION_DENIED for a token of another
   * ServiceAccount or a Pod on another node, UNAVAILABLE when the apiserver cannot answer.
   */
  async issue(req: IssueRequest__Output): Promise<IssueResponse__Output> {
    try {
      const cert = await this.check(req);
      this.log.info('issued a node certificate', {
        node: req.node,
        notAfter: new Date(cert.notAfter).toISOString(),
      });
      return {
        certificatePem: cert.certPem,
        caPem: this.opts.ca.certPem,
        notAfterUnixMs: cert.notAfter,
      };
    } catch (err) {
      const e =
        err instanceof BootstrapError
          ? err
          : new BootstrapError(GrpcStatus.INTERNAL, `cannot issue: ${errorMessage(err)}`, {
              cause: err,
            });
      this.log.warn('refused a node certificate', {
        node: req.node.slice(0, 253),
        grpcCode: GrpcStatus[e.grpcCode],
        reason: e.message,
      });
      throw e;
    }
  }

  private async check(req: IssueRequest__Output): Promise<NodeCertificate> {
    const problem = nodeNameProblem(req.node);
    if (problem) throw new BootstrapError(GrpcStatus.INVALID_ARGUMENT, problem);
    try {
      parseNodePublicKey(req.publicKeyPem);
    } catch (err) {
      throw new BootstrapError(GrpcStatus.INVALID_ARGUMENT, errorMessage(err), { cause: err });
    }
    const user = await this.authenticate(req.token);
    const podName = single(user.extra[POD_NAME_EXTRA]);
    const podUid = single(user.extra[POD_UID_EXTRA]);
    if (!podName || !podUid)
      throw new BootstrapError(
        GrpcStatus.UNAUTHENTICATED,
        'the token is not bound to a Pod (use a projected service-account token)',
      );
    const tokenNode = single(user.extra[NODE_NAME_EXTRA]);
    if (tokenNode !== undefined && tokenNode !== req.node)
      throw new BootstrapError(
        GrpcStatus.PERMISSION_DENIED,
        `the token's Pod runs on node ${tokenNode}, not ${req.node}`,
      );
    const pod = await this.pod(podName);
    const where = `Pod ${this.sa.namespace}/${podName}`;
    if (!pod || pod.metadata.uid !== podUid)
      throw new BootstrapError(
        GrpcStatus.UNAUTHENTICATED,
        `${where}, which the token is bound to, no longer exists`,
      );
    if (pod.metadata.deletionTimestamp)
      throw new BootstrapError(GrpcStatus.PERMISSION_DENIED, `${where} is being deleted`);
    const podSa = pod.spec?.serviceAccountName || 'default';
    if (podSa !== this.sa.name)
      throw new BootstrapError(
        GrpcStatus.PERMISSION_DENIED,
        `${where} runs as ServiceAccount ${podSa}, not ${this.sa.name}`,
      );
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed')
      throw new BootstrapError(GrpcStatus.PERMISSION_DENIED, `${where} has terminated`);
    const podNode = pod.spec?.nodeName;
    if (podNode !== req.node)
      throw new BootstrapError(
        GrpcStatus.PERMISSION_DENIED,
        podNode
          ? `${where} runs on node ${podNode}, not ${req.node}`
          : `${where} is not scheduled to a node`,
      );
    try {
      return await issueNodeCertificate(this.opts.ca, req.node, req.publicKeyPem, {
        validityMs: this.opts.validityMs ?? DEFAULT_NODE_CERT_VALIDITY_MS,
        now: this.now(),
      });
    } catch (err) {
      const code =
        err instanceof CertificateRequestError ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL;
      throw new BootstrapError(code, errorMessage(err), { cause: err });
    }
  }

  /** The token's user, required to be the shim's ServiceAccount. */
  private async authenticate(token: string): Promise<AuthenticatedUser> {
    if (token.length === 0) throw new BootstrapError(GrpcStatus.UNAUTHENTICATED, 'no token');
    let review: TokenReviewResult;
    try {
      review = await reviewToken(
        this.opts.client,
        token,
        this.opts.audiences ? { audiences: this.opts.audiences } : {},
      );
    } catch (err) {
      throw new BootstrapError(
        GrpcStatus.UNAVAILABLE,
        `cannot review the token: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    if (!review.authenticated)
      throw new BootstrapError(GrpcStatus.UNAUTHENTICATED, 'the token was not accepted');
    if (review.user.username !== this.username)
      throw new BootstrapError(
        GrpcStatus.PERMISSION_DENIED,
        `the token belongs to ${review.user.username}, not to ServiceAccount ${this.sa.namespace}/${this.sa.name}`,
      );
    return review.user;
  }

  private async pod(name: string): Promise<PodObject | undefined> {
    try {
      return await this.opts.client.get<PodObject>(Resources.pods, name, this.sa.namespace);
    } catch (err) {
      throw new BootstrapError(
        GrpcStatus.UNAVAILABLE,
        `cannot read Pod ${this.sa.namespace}/${name}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
}

function single(values: readonly string[] | undefined): string | undefined {
  return values?.length === 1 ? values[0] : undefined;
}
