/**
 * A minimal Redis client (RESP2 over one TCP connection) for the benchmark's baseline: raw
 * `PING` / `INCR` round trips with no client library in between. Commands are written as
 * they are called and replies matched in order, so concurrent calls are pipelined exactly as
 * ioredis pipelines the identity store's scripts on its single connection.
 *
 * Only the reply types those commands produce are parsed: simple strings, errors, integers
 * and bulk strings.
 */
import { createConnection, type Socket } from 'node:net';

/** A parsed reply. */
export type RespReply = string | number | null;

interface Waiter {
  resolve(v: RespReply): void;
  reject(err: Error): void;
}

/** One connection to a Redis server. */
export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting: Waiter[] = [];
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.onData(d));
    const fail = (err: Error): void => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('redis connection closed')));
  }

  /** Connects to `127.0.0.1:port`. */
  static connect(port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ host: '127.0.0.1', port });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new RespClient(sock));
      });
    });
  }

  /** Sends one command; resolves with its reply, rejects on an error reply. */
  command(...args: readonly string[]): Promise<RespReply> {
    if (this.closed) return Promise.reject(new Error('redis connection closed'));
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(out);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      let parsed: ReturnType<typeof parseReply>;
      try {
        parsed = parseReply(this.buf);
      } catch (err) {
        this.sock.destroy(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (!parsed) return;
      this.buf = this.buf.subarray(parsed.used);
      const w = this.waiting.shift();
      if (!w) continue;
      if (parsed.error !== undefined) w.reject(new Error(`redis: ${parsed.error}`));
      else w.resolve(parsed.value);
    }
  }
}

function parseReply(b: Buffer): { value: RespReply; error?: string; used: number } | undefined {
  const eol = b.indexOf('\r\n');
  if (eol < 0) return undefined;
  const line = b.toString('utf8', 1, eol);
  switch (String.fromCharCode(b[0] ?? 0)) {
    case '+':
      return { value: line, used: eol + 2 };
    case '-':
      return { value: null, error: line, used: eol + 2 };
    case ':':
      return { value: Number(line), used: eol + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, used: eol + 2 };
      if (b.length < eol + 2 + len + 2) return undefined;
      return { value: b.toString('utf8', eol + 2, eol + 2 + len), used: eol + 2 + len + 2 };
    }
    default:
      throw new Error(`redis: unexpected reply type in ${JSON.stringify(line.slice(0, 40))}`);
  }
}
