/**
 * The CNI plugin's side of the shim's endpoint API: HTTP/1.1 with JSON bodies over the
 * shim's unix socket.
 *
 * - `POST /v1/endpoints` with an {@link EndpointRegistration}: 2xx once the shim has
 *   attached its programs to the host veth (an upsert keyed by `containerId`).
 * - `DELETE /v1/endpoints/<containerId>`: 2xx, or 404 when the shim does not know it.
 * - `GET /v1/endpoints/<containerId>`: 200 when the shim knows it, 404 when not.
 *
 * Refusals are 4xx/5xx with `{"error":{"code":"...","message":"..."}}`. An unreachable
 * shim, a timeout or a refusal is code 11 ("try again later") so the runtime retries.
 */
import { request } from 'node:http';
import { CniError, messageOf } from './errors.js';
import type { PodRef } from './env.js';

/** How long one request to the shim may take, connection included. */
export const SHIM_TIMEOUT_MS = 10_000;

/** The body of `POST /v1/endpoints`. */
export interface EndpointRegistration {
  readonly containerId: string;
  /** `CNI_NETNS`, the path of the pod's netns. */
  readonly netns: string;
  /** The interface name inside the pod. */
  readonly ifName: string;
  readonly hostIfName: string;
  readonly hostIfIndex: number;
  /** The pod's addresses, without prefix length, IPv4 first. */
  readonly ips: readonly string[];
  /** MAC address of the pod's interface. */
  readonly mac: string;
  readonly pod: PodRef;
}

/** A shim answer: status and parsed JSON body (undefined when empty or not JSON). */
export interface ShimResponse {
  readonly status: number;
  readonly body: unknown;
}

/** The endpoint operations the CNI plugin needs from the shim. */
export interface ShimApi {
  /** Registers an endpoint; throws code 11 when the shim is unreachable or refuses. */
  register(reg: EndpointRegistration): Promise<void>;
  /** Forgets an endpoint; unknown endpoints are fine. Throws code 11 like `register`. */
  unregister(containerId: string): Promise<void>;
  /** True when the shim knows the endpoint. Throws code 11 when it cannot tell. */
  has(containerId: string): Promise<boolean>;
}

/** The shim's error message from a refusal body, or a generic one. */
export function shimErrorMessage(res: ShimResponse): string {
  const b = res.body;
  if (typeof b === 'object' && b !== null) {
    const e = (b as Record<string, unknown>)['error'];
    if (typeof e === 'object' && e !== null) {
      const { code, message } = e as Record<string, unknown>;
      if (typeof message === 'string') {
        return typeof code === 'string' ? `${code}: ${message}` : message;
      }
    }
  }
  return `HTTP ${res.status}`;
}

/** Sends one request to the shim over its unix socket. Throws code 11 when it gets no answer. */
export function shimRequest(
  socketPath: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  timeoutMs: number = SHIM_TIMEOUT_MS,
): Promise<ShimResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const fail = (why: string, cause?: unknown): void =>
      reject(
        new CniError('TryAgainLater', `shim at ${socketPath} ${why}`, {
          cause,
          details: `${method} ${path}`,
        }),
      );
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: {
          host: 'palisade-shim',
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : {
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(payload),
              }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail(`broke off its answer: ${messageOf(err)}`, err));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      fail(`did not answer within ${timeoutMs / 1000}s`);
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      fail(`is unreachable: ${messageOf(err)}`, err);
    });
    req.end(payload);
  });
}

function endpointPath(containerId: string): string {
  return `/v1/endpoints/${encodeURIComponent(containerId)}`;
}

function refused(what: string, res: ShimResponse): CniError {
  return new CniError('TryAgainLater', `shim refused to ${what}: ${shimErrorMessage(res)}`, {
    details: `HTTP ${res.status}`,
  });
}

/** A {@link ShimApi} talking to the shim's unix socket. */
export function unixSocketShim(socketPath: string, timeoutMs: number = SHIM_TIMEOUT_MS): ShimApi {
  return {
    async register(reg) {
      const res = await shimRequest(socketPath, 'POST', '/v1/endpoints', reg, timeoutMs);
      if (res.status < 200 || res.status > 299) {
        throw refused(`register endpoint ${reg.containerId}`, res);
      }
    },
    async unregister(containerId) {
      const res = await shimRequest(
        socketPath,
        'DELETE',
        endpointPath(containerId),
        undefined,
        timeoutMs,
      );
      if (res.status === 404) return;
      if (res.status < 200 || res.status > 299) {
        throw refused(`remove endpoint ${containerId}`, res);
      }
    },
    async has(containerId) {
      const res = await shimRequest(
        socketPath,
        'GET',
        endpointPath(containerId),
        undefined,
        timeoutMs,
      );
      if (res.status === 200) return true;
      if (res.status === 404) return false;
      throw refused(`look up endpoint ${containerId}`, res);
    },
  };
}
