/**
 * Free loopback TCP ports, found by binding port 0 and reading what the kernel chose.
 */
import { createServer, type Server } from 'node:net';

function listen(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(s));
  });
}

function close(s: Server): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

/**
 * Returns `n` distinct free ports on 127.0.0.1. All sockets are held open until every port
 * is known, so the ports differ from each other; another process may still take one before
 * the caller binds it (the window is a few milliseconds).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listen());
    return servers.map((s) => {
      const a = s.address();
      if (a === null || typeof a === 'string') throw new Error('unexpected server address');
      return a.port;
    });
  } finally {
    await Promise.all(servers.map(close));
  }
}
