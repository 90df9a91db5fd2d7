/**
 * The shim's local API: HTTP with JSON bodies on a unix socket, for the CNI plugin and
 * the `palisade` CLI on the node. Routes:
 *
 *   POST   /v1/endpoints        register an endpoint (the CNI plugin's ADD)
 *   GET    /v1/endpoints        list, GET /v1/endpoints/<id> one
 *   DELETE /v1/endpoints/<id>   remove (the CNI plugin's DEL); 404 when unknown
 *   GET    /v1/flows?limit=N&verdict=deny   recent flow records
 *   GET    /v1/status           maps, counters, last apply and last error
 *   POST   /v1/resync           re-read the kernel maps and repair drift now
 *   POST   /v1/reload           re-read the policy source now (when the shim has one)
 *   GET    /metrics             Prometheus text
 *   GET    /healthz             200 when the shim is serving
 *
 * Errors are `{"error":{"code","message"}}` with 400 (bad request), 404, 409 (map
 * overflow) or 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ShimError } from '../errors.js';
import type { Shim } from '../shim.js';
import type { LocalEndpoint } from '../reconciler/endpoint.js';

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4' : 'application/json',
  });
  res.end(text);
}

function statusOf(e: unknown): number {
  if (!(e instanceof ShimError)) return 500;
  switch (e.code) {
    case 'INVALID_REQUEST':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'MAP_OVERFLOW':
      return 409;
    case 'NOT_READY':
      return 503;
    case 'BPFFS_MISSING':
    case 'KERNEL_FEATURE':
    case 'KERNEL':
    case 'MAP_MISMATCH':
    case 'NATIVE_MISSING':
    case 'SOURCE':
    case 'CREDENTIALS':
      return 500;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY)
      throw new ShimError('INVALID_REQUEST', `body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new ShimError('INVALID_REQUEST', `body is not JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

function asEndpoint(body: unknown): LocalEndpoint {
  if (typeof body !== 'object' || body === null)
    throw new ShimError('INVALID_REQUEST', 'body must be a JSON object');
  const b = body as Record<string, unknown>;
  const pod = b.pod as { namespace?: unknown; name?: unknown } | undefined;
  const ns = typeof pod?.namespace === 'string' ? pod.namespace : '';
  const name = typeof pod?.name === 'string' ? pod.name : '';
  return {
    containerId: b.containerId as string,
    pod: name ? `${ns}/${name}` : '',
    netns: typeof b.netns === 'string' ? b.netns : '',
    ifName: typeof b.ifName === 'string' ? b.ifName : 'eth0',
    hostIfName: b.hostIfName as string,
    hostIfIndex: b.hostIfIndex as number,
    ips: b.ips as string[],
    ...(typeof b.mac === 'string' ? { mac: b.mac } : {}),
  };
}

/** Serves the local API of a shim on a unix socket. */
export async function serveLocalApi(
  shim: Shim,
  socketPath: string,
  options: { reload?: () => unknown } = {},
): Promise<Server> {
  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    handle(shim, options, req, res).catch((e: unknown) => {
      send(res, statusOf(e), {
        error: {
          code: e instanceof ShimError ? e.code : 'INTERNAL',
          message: (e as Error).message,
        },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return server;
}

async function handle(
  shim: Shim,
  options: { reload?: () => unknown },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://shim');
  const path = url.pathname;
  const m = /^\/v1\/endpoints\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
  if (req.method === 'GET' && path === '/metrics') return send(res, 200, shim.metrics());
  if (req.method === 'GET' && path === '/v1/status') return send(res, 200, shim.status());
  if (req.method === 'POST' && path === '/v1/resync')
    return send(res, 200, shim.reconcile({ resync: true }));
  if (req.method === 'POST' && path === '/v1/reload') {
    if (!options.reload) throw new ShimError('NOT_FOUND', 'this shim has no local policy source');
    return send(res, 200, options.reload());
  }
  if (req.method === 'GET' && path === '/v1/flows') {
    shim.pollFlows();
    const limit = Number(url.searchParams.get('limit') ?? '100');
    const verdict = url.searchParams.get('verdict');
    let flows = shim.recentFlows();
    if (verdict) flows = flows.filter((f) => f.verdict === verdict);
    return send(res, 200, { flows: flows.slice(-Math.max(1, Math.min(limit, 100000))) });
  }
  if (req.method === 'GET' && path === '/v1/endpoints')
    return send(res, 200, { endpoints: shim.endpoints() });
  if (req.method === 'POST' && path === '/v1/endpoints') {
    const ep = asEndpoint(await readJson(req));
    shim.register(ep);
    return send(res, 200, { endpoint: ep });
  }
  if (m && req.method === 'GET') {
    const ep = shim.endpoints().find((e) => e.containerId === decodeURIComponent(m[1] ?? ''));
    if (!ep) throw new ShimError('NOT_FOUND', `no endpoint ${m[1]}`);
    return send(res, 200, { endpoint: ep });
  }
  if (m && req.method === 'DELETE') {
    if (!shim.unregister(decodeURIComponent(m[1] ?? '')))
      throw new ShimError('NOT_FOUND', `no endpoint ${m[1]}`);
    return send(res, 200, { ok: true });
  }
  throw new ShimError('NOT_FOUND', `no route ${req.method ?? ''} ${path}`);
}
