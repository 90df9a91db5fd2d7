/**
 * Test support: a stand-in for the shim's endpoint API on a unix socket, recording every
 * request. Used by the CNI plugin's tests only (the real shim is its own component).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';

/** How the fake answers. */
export type FakeShimMode = 'ok' | 'refuse' | 'hang';

/** One request the fake received. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly body: unknown;
}

/** A running fake shim. */
export interface FakeShim {
  readonly socketPath: string;
  readonly requests: RecordedRequest[];
  /** Endpoints registered and not deleted, by container id. */
  readonly endpoints: Map<string, unknown>;
  mode: FakeShimMode;
  close(): Promise<void>;
}

/** Starts a fake shim listening on `socketPath`. */
export async function startFakeShim(socketPath: string): Promise<FakeShim> {
  const requests: RecordedRequest[] = [];
  const endpoints = new Map<string, unknown>();
  const state = { mode: 'ok' as FakeShimMode };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text === '' ? undefined : JSON.parse(text);
      const url = req.url ?? '';
      requests.push({ method: req.method ?? '', url, body });
      if (state.mode === 'hang') return;
      const send = (status: number, payload: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (state.mode === 'refuse') {
        send(503, { error: { code: 'NotReady', message: 'datapath not loaded yet' } });
        return;
      }
      const id = decodeURIComponent(url.replace(/^\/v1\/endpoints\/?/, ''));
      if (req.method === 'POST' && url === '/v1/endpoints') {
        endpoints.set((body as { containerId: string }).containerId, body);
        send(200, { ok: true });
      } else if (req.method === 'GET' && endpoints.has(id)) {
        send(200, endpoints.get(id));
      } else if (req.method === 'DELETE' && endpoints.delete(id)) {
        send(200, {});
      } else {
        send(404, { error: { code: 'NotFound', message: `no endpoint ${id}` } });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    socketPath,
    requests,
    endpoints,
    get mode() {
      return state.mode;
    },
    set mode(m: FakeShimMode) {
      state.mode = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
