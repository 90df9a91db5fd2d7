/** The operator's HTTP endpoint: `/metrics`, `/healthz` (alive) and `/readyz` (synced). */
import * as http from 'node:http';
import type { Registry } from 'prom-client';

/** What the endpoint reports. */
export interface HealthSource {
  readonly registry: Registry;
  /** Alive: the event loop answers and the process is not shutting down. */
  live(): boolean;
  /** Ready: a standby is ready; a leader once its caches are synced. */
  ready(): { ok: boolean; detail: string };
}

/** Starts the endpoint; resolves with the bound port. */
export async function startHealthServer(
  src: HealthSource,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      src.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': src.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (path === '/healthz') {
      const ok = src.live();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'shutting down\n');
      return;
    }
    if (path === '/readyz') {
      const r = src.ready();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(`${r.detail}\n`);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
