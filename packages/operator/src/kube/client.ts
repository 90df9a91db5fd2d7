/**
 * A small REST client for the kube-apiserver.
 *
 * Authentication and TLS come from `@kubernetes/client-node`'s KubeConfig (kubeconfig files,
 * in-cluster service accounts, exec plugins); requests go over one keep-alive HTTPS agent.
 * Paths are built from `Resource` descriptors, so built-in and custom resources, status
 * subresources, preconditions, bookmarks and resourceVersions are handled the same way.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { createInterface } from 'node:readline';
import { KubeConfig } from '@kubernetes/client-node';
import { OperatorError } from '../errors.js';
import { KubeApiError } from './kubeApiError.js';
import type { KubeList, KubeObject } from './kubeObject.js';
import { collectionPath, objectPath, type Resource } from './resources.js';

/** Options of one request. */
export interface RequestOptions {
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Per-request timeout in ms (default: the client's). */
  readonly timeoutMs?: number;
}

/** Options of a list call. */
export interface ListOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
  readonly signal?: AbortSignal;
}

/** One watch event. `object` is a Status for ERROR events. */
export interface WatchEvent<T extends KubeObject = KubeObject> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

/** Options of a watch call. */
export interface WatchOptions {
  readonly namespace?: string;
  readonly resourceVersion?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Server-side timeout: the server ends the watch after this many seconds. */
  readonly timeoutSeconds?: number;
  readonly signal?: AbortSignal;
}

/** Delete preconditions: the delete fails with 409 unless they hold. */
export interface Preconditions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** Options of the client. */
export interface KubeClientOptions {
  /** Timeout of non-watch requests in ms (default 30 s). */
  readonly timeoutMs?: number;
  /** Sent as the User-Agent (default `palisade-operator`). */
  readonly userAgent?: string;
}

/** A REST client bound to one cluster and user. */
export class KubeClient {
  private agent: http.Agent | undefined;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  readonly server: string;

  constructor(
    readonly config: KubeConfig,
    options: KubeClientOptions = {},
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new OperatorError('CONFIG', 'kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'palisade-operator';
  }

  /** A client from a kubeconfig file, or from the default places (KUBECONFIG, in-cluster). */
  static load(kubeconfigPath?: string, options: KubeClientOptions = {}): KubeClient {
    const kc = new KubeConfig();
    try {
      if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
      else kc.loadFromDefault();
    } catch (err) {
      throw new OperatorError(
        'CONFIG',
        `cannot load kubeconfig${kubeconfigPath ? ` ${kubeconfigPath}` : ''}: ${String(err)}`,
        { cause: err },
      );
    }
    return new KubeClient(kc, options);
  }

  /** Closes idle connections. */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  // ---- typed helpers ----------------------------------------------------------------------

  /** One page of a list. */
  list<T extends KubeObject>(res: Resource, opts: ListOptions = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', collectionPath(res, opts.namespace), {
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** Every object, paging through the list; `resourceVersion` is the list's. */
  async listAll<T extends KubeObject>(
    res: Resource,
    opts: Omit<ListOptions, 'limit' | 'continue'> & { pageSize?: number } = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.list<T>(res, {
        ...opts,
        limit: opts.pageSize ?? 500,
        ...(cont ? { continue: cont } : {}),
      });
      for (const it of page.items) items.push(it);
      rv = page.metadata.resourceVersion ?? rv;
      cont = page.metadata.continue || undefined;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  /** One object, or undefined when it does not exist. */
  async get<T extends KubeObject>(
    res: Resource,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', objectPath(res, name, namespace));
    } catch (err) {
      if (err instanceof KubeApiError && err.notFound) return undefined;
      throw err;
    }
  }

  /** Creates an object (namespace from its metadata). */
  create<T extends KubeObject>(res: Resource, obj: T): Promise<T> {
    return this.request<T>('POST', collectionPath(res, obj.metadata.namespace ?? 'default'), {
      body: obj,
    });
  }

  /** Replaces an object; fails with 409 Conflict when its resourceVersion is stale. */
  replace<T extends KubeObject>(res: Resource, obj: T, subresource?: string): Promise<T> {
    return this.request<T>(
      'PUT',
      objectPath(res, obj.metadata.name, obj.metadata.namespace, subresource),
      { body: obj },
    );
  }

  /** A JSON merge patch (RFC 7386), optionally on a subresource such as `status`. */
  mergePatch<T extends KubeObject>(
    res: Resource,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    subresource?: string,
  ): Promise<T> {
    return this.request<T>('PATCH', objectPath(res, name, namespace, subresource), {
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** A JSON patch (RFC 6902): `test` operations make it conditional. */
  jsonPatch<T extends KubeObject>(
    res: Resource,
    name: string,
    namespace: string | undefined,
    ops: readonly unknown[],
  ): Promise<T> {
    return this.request<T>('PATCH', objectPath(res, name, namespace), {
      body: ops,
      contentType: 'application/json-patch+json',
    });
  }

  /** Deletes an object; `false` when it was already gone. */
  async delete(
    res: Resource,
    name: string,
    namespace?: string,
    preconditions?: Preconditions,
  ): Promise<boolean> {
    try {
      await this.request('DELETE', objectPath(res, name, namespace), {
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          ...(preconditions ? { preconditions } : {}),
        },
      });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.notFound) return false;
      throw err;
    }
  }

  /**
   * Watches a collection, calling `onEvent` for each event, and resolves when the server
   * ends the stream (or `signal` aborts). Rejects with KubeApiError when the watch cannot be
   * opened (410 for an expired resourceVersion) or the connection fails.
   */
  async watch<T extends KubeObject>(
    res: Resource,
    opts: WatchOptions,
    onEvent: (e: WatchEvent<T>) => void,
  ): Promise<void> {
    const url = this.url(collectionPath(res, opts.namespace), {
      watch: true,
      allowWatchBookmarks: true,
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      timeoutSeconds: opts.timeoutSeconds,
    });
    const req = await this.open('GET', url, undefined, undefined);
    const signal = opts.signal;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', abort);
        if (err instanceof Error) reject(err);
        else if (err !== undefined) reject(new Error('watch failed'));
        else resolve();
      };
      const abort = (): void => {
        req.destroy();
        finish();
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      req.on('error', (err) => finish(connectionError('GET', url, err)));
      req.on('response', (resp) => {
        if (resp.statusCode !== 200) {
          void readBody(resp).then(
            (text) => finish(apiError('GET', url, resp.statusCode ?? 0, text)),
            (err: unknown) => finish(connectionError('GET', url, err)),
          );
          return;
        }
        resp.on('error', (err) => finish(connectionError('GET', url, err)));
        resp.on('aborted', () => finish(connectionError('GET', url, new Error('aborted'))));
        const lines = createInterface({ input: resp, crlfDelay: Infinity });
        lines.on('error', (err) => finish(connectionError('GET', url, err)));
        lines.on('line', (line) => {
          if (settled || line.length === 0) return;
          let ev: WatchEvent<T>;
          try {
            ev = JSON.parse(line) as WatchEvent<T>;
          } catch (err) {
            req.destroy();
            finish(connectionError('GET', url, err));
            return;
          }
          try {
            onEvent(ev);
          } catch (err) {
            req.destroy();
            finish(err);
          }
        });
        lines.on('close', () => finish());
      });
      req.end();
    });
  }

  // ---- raw requests -------------------------------------------------------------------------

  /** One request; the JSON answer, or KubeApiError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.url(path, opts.query ?? {});
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = await this.open(method, url, body, opts.contentType ?? 'application/json');
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return await new Promise<T>((resolve, reject) => {
      const signal = opts.signal;
      const timer = setTimeout(() => {
        req.destroy(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const abort = (): void => {
        req.destroy(new OperatorError('SHUTDOWN', `${method} ${path}: cancelled`));
      };
      signal?.addEventListener('abort', abort, { once: true });
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
      };
      req.on('error', (err) => {
        done();
        reject(err instanceof OperatorError ? err : connectionError(method, url, err));
      });
      req.on('response', (resp) => {
        readBody(resp).then(
          (text) => {
            done();
            const status = resp.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              try {
                resolve((text ? JSON.parse(text) : undefined) as T);
              } catch (err) {
                reject(connectionError(method, url, err));
              }
            } else reject(apiError(method, url, status, text));
          },
          (err: unknown) => {
            done();
            reject(connectionError(method, url, err));
          },
        );
      });
      req.end(body);
    });
  }

  private url(path: string, query: Record<string, string | number | boolean | undefined>): URL {
    const u = new URL(this.server + path);
    for (const [k, v] of Object.entries(query))
      if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
    return u;
  }

  private async open(
    method: string,
    url: URL,
    body: string | undefined,
    contentType: string | undefined,
  ): Promise<http.ClientRequest> {
    const opts: https.RequestOptions = {};
    await this.config.applyToHTTPSOptions(opts);
    const secure = url.protocol === 'https:';
    if (!this.agent) {
      const tls = {
        keepAlive: true,
        maxSockets: 64,
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.cert ? { cert: opts.cert } : {}),
        ...(opts.key ? { key: opts.key } : {}),
        ...(opts.rejectUnauthorized !== undefined
          ? { rejectUnauthorized: opts.rejectUnauthorized }
          : {}),
        ...(opts.servername ? { servername: opts.servername } : {}),
      };
      this.agent = secure ? new https.Agent(tls) : new http.Agent({ keepAlive: true });
    }
    const headers: http.OutgoingHttpHeaders = {
      ...(opts.headers as http.OutgoingHttpHeaders | undefined),
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      headers['content-length'] = Buffer.byteLength(body);
    }
    const reqOpts: https.RequestOptions = { method, headers, agent: this.agent };
    return secure ? https.request(url, reqOpts) : http.request(url, reqOpts);
  }
}

function readBody(resp: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    resp.on('data', (c: Buffer) => chunks.push(c));
    resp.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    resp.on('error', reject);
    resp.on('aborted', () => reject(new Error('response aborted')));
  });
}

function apiError(method: string, url: URL, status: number, text: string): KubeApiError {
  let reason = '';
  let message = text.slice(0, 2000);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? '';
    message = s.message ?? message;
  } catch {
    // Not a Status object: keep the raw text as the message.
  }
  return new KubeApiError(status, reason, `${method} ${url.pathname}: ${status} ${message}`);
}

function connectionError(method: string, url: URL, err: unknown): KubeApiError {
  const msg = err instanceof Error ? err.message : String(err);
  return new KubeApiError(0, 'ConnectionFailed', `${method} ${url.pathname}: ${msg}`, {
    cause: err,
  });
}
