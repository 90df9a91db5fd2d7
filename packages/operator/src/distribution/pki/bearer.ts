/**
 * Bearer-token authentication through the kube-apiserver: a TokenReview says who the token
 * belongs to, a SubjectAccessReview whether that user may do what is asked. The operator
 * needs RBAC `create` on `tokenreviews` and `subjectaccessreviews` for this.
 *
 * Invariant: the token never appears in a message, a log line or an error; only the
 * apiserver sees it.
 */
import type { KubeClient } from '../../kube/client.js';
import { collectionPath, Resources } from '../../kube/resources.js';

/** The longest token sent for review; longer ones are refused without asking. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** The user a token belongs to, as the apiserver authenticated it. */
export interface AuthenticatedUser {
  readonly username: string;
  readonly uid: string;
  readonly groups: readonly string[];
  /** Extra attributes (for a bound service-account token: the pod's name and uid). */
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

/** The outcome of a TokenReview. */
export type TokenReviewResult =
  | {
      readonly authenticated: true;
      readonly user: AuthenticatedUser;
      readonly audiences: readonly string[];
    }
  | { readonly authenticated: false; readonly error: string };

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: {
    username?: string;
    uid?: string;
    groups?: string[];
    extra?: Record<string, string[]>;
  };
  audiences?: string[];
  error?: string;
}

/**
 * Asks the apiserver who `token` belongs to (TokenReview, authentication.k8s.io/v1). With
 * `audiences`, the token must be meant for one of them. Rejects with a `KUBE` error when the
 * apiserver cannot answer (so callers can tell "refused" from "could not check").
 */
export async function reviewToken(
  client: KubeClient,
  token: string,
  opts: { readonly audiences?: readonly string[] } = {},
): Promise<TokenReviewResult> {
  if (token.length === 0) return { authenticated: false, error: 'no token' };
  if (token.length > MAX_TOKEN_LENGTH)
    return { authenticated: false, error: `token longer than ${MAX_TOKEN_LENGTH} characters` };
  const review = await client.request<{ status?: TokenReviewStatus }>(
    'POST',
    collectionPath(Resources.tokenReviews),
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, ...(opts.audiences ? { audiences: [...opts.audiences] } : {}) },
      },
    },
  );
  const s = review.status ?? {};
  if (s.authenticated !== true || !s.user?.username)
    return { authenticated: false, error: s.error || 'the token was not accepted' };
  return {
    authenticated: true,
    user: {
      username: s.user.username,
      uid: s.user.uid ?? '',
      groups: s.user.groups ?? [],
      extra: s.user.extra ?? {},
    },
    audiences: s.audiences ?? [],
  };
}

/** What the caller wants to do, in RBAC terms. */
export interface ResourceAccess {
  readonly verb: string;
  /** API group ('' for the core group). */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

/** The outcome of {@link authenticateBearer}. */
export type BearerResult =
  | { readonly ok: true; readonly user: AuthenticatedUser }
  | {
      readonly ok: false;
      readonly code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED';
      /** Safe to return to the caller: never contains the token. */
      readonly message: string;
    };

interface SubjectAccessReviewStatus {
  allowed?: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/**
 * Authenticates `token` (TokenReview) and checks that its user may perform `access`
 * (SubjectAccessReview, authorization.k8s.io/v1). Refusals are results; a failure to reach
 * the apiserver rejects with a `KUBE` error.
 */
export async function authenticateBearer(
  client: KubeClient,
  token: string,
  access: ResourceAccess,
  opts: { readonly audiences?: readonly string[] } = {},
): Promise<BearerResult> {
  const review = await reviewToken(client, token, opts);
  if (!review.authenticated)
    return { ok: false, code: 'UNAUTHENTICATED', message: 'the bearer token was not accepted' };
  const user = review.user;
  const sar = await client.request<{ status?: SubjectAccessReviewStatus }>(
    'POST',
    collectionPath(Resources.subjectAccessReviews),
    {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          uid: user.uid,
          groups: [...user.groups],
          extra: user.extra,
          resourceAttributes: {
            verb: access.verb,
            group: access.group,
            resource: access.resource,
            ...(access.subresource ? { subresource: access.subresource } : {}),
            ...(access.namespace ? { namespace: access.namespace } : {}),
            ...(access.name ? { name: access.name } : {}),
          },
        },
      },
    },
  );
  if (sar.status?.allowed === true) return { ok: true, user };
  const what = `${access.verb} ${access.resource}${access.subresource ? `/${access.subresource}` : ''}${access.group ? `.${access.group}` : ''}`;
  return {
    ok: false,
    code: 'PERMISSION_DENIED',
    message: `${user.username} may not ${what}${access.namespace ? ` in namespace ${access.namespace}` : ''}${sar.status?.reason ? `: ${sar.status.reason}` : ''}`,
  };
}
