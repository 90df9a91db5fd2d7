/** A client for the shim's local API (unix socket), for the CLI and the tests. */
import { request } from 'node:http';
import { ShimError } from '../errors.js';

/** The default socket of a node's shim. */
export function defaultSocket(node: string): string {
  return `/run/palisade/${node}/shim.sock`;
}

/** Calls the shim's local API; resolves with the parsed JSON (or text) body. */
export function callShim(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        // A fresh connection per call: a kept-alive socket the shim has closed meanwhile
        // would fail the next request with EPIPE.
        agent: false,
        method,
        path,
        timeout: timeoutMs,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          if ((res.statusCode ?? 500) >= 400) {
            const err = (parsed as { error?: { code?: string; message?: string } }).error;
            reject(
              new ShimError(
                err?.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'INVALID_REQUEST',
                `shim: ${res.statusCode} ${err?.code ?? ''}: ${err?.message ?? text}`,
              ),
            );
          } else resolve(parsed);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`shim did not answer within ${timeoutMs} ms`)));
    req.on('error', (e) =>
      reject(
        new ShimError('SOURCE', `cannot reach the shim at ${socketPath}: ${e.message}`, {
          cause: e,
        }),
      ),
    );
    if (payload) req.write(payload);
    req.end();
  });
}
