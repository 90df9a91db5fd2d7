/**
 * Driver for `palisade-probe-agent`, the small C program privileged tests run inside network
 * namespaces to serve and send real TCP, UDP, SCTP (raw) and ICMP traffic.
 *
 * The agent reads one command per line and answers each with exactly one JSON line; this class
 * queues callers so that only one command is outstanding at a time.
 *
 * @packageDocumentation
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Protocols a probe can use. */
export type ProbeProtocol = 'tcp' | 'udp' | 'sctp' | 'icmp';
/** Protocols the agent can serve. */
export type ServeProtocol = 'tcp' | 'udp' | 'sctp';
/** Protocols a stream can use. */
export type StreamProtocol = 'tcp' | 'udp';

/** Why a {@link ProbeAgentError} was raised. */
export type ProbeAgentErrorCode =
  /** The agent could not be started (e.g. `ip` missing). */
  | 'spawn'
  /** The agent exited unexpectedly (e.g. unknown namespace, crash). */
  | 'exited'
  /** The agent answered something that is not a valid reply. */
  | 'protocol'
  /** The agent did not answer in time; it has been killed. */
  | 'timeout'
  /** The agent was closed with {@link ProbeAgent.close}. */
  | 'closed'
  /** The agent refused the command (`{"ok":false}` for serve, count, counted, flood). */
  | 'command'
  /** An argument was rejected before being sent. */
  | 'invalid';

/** Error raised by {@link ProbeAgent}. */
export class ProbeAgentError extends Error {
  override readonly name = 'ProbeAgentError';
  /** Why it failed. */
  readonly code: ProbeAgentErrorCode;
  constructor(code: ProbeAgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Outcome of {@link ProbeAgent.probe}. */
export interface ProbeResult {
  /** Whether the echo (or ICMP echo reply, or SCTP INIT ACK) came back. */
  readonly ok: boolean;
  /** Round-trip time in milliseconds, when ok. */
  readonly ms?: number;
  /**
   * Why not, when not ok: `timeout` (dropped somewhere, or UDP/SCTP port not served),
   * `refused` (TCP RST, or SCTP ABORT), `host unreachable`, `reset`, `closed`, ...
   */
  readonly error?: string;
}

/** Outcome of {@link ProbeAgent.stream}. */
export interface StreamResult {
  /** False when the flow broke (`error` tells how) or could not be opened. */
  readonly ok: boolean;
  /** Messages sent (fully written, for TCP). */
  readonly sent: number;
  /** Distinct messages echoed back. */
  readonly received: number;
  /** The first (at most 20) sequence numbers that were sent but not echoed. */
  readonly lost: readonly number[];
  /** E.g. `reset after 12`, `closed after 12`, `refused`, `timeout`. */
  readonly error?: string;
}

/** Outcome of {@link ProbeAgent.flood}. */
export interface FloodResult {
  /** Datagrams handed to the kernel. */
  readonly sent: number;
  /** How long the flood actually ran. */
  readonly seconds: number;
}

/** Options of {@link ProbeAgent.probe}. */
export interface ProbeOptions {
  /** How long to wait for the answer. */
  readonly timeoutMs: number;
  /** Source port to bind (tcp, udp, sctp). Not for icmp. */
  readonly srcPort?: number;
}

/** Options of {@link ProbeAgent.stream}. */
export interface StreamOptions {
  /** How many messages to send. */
  readonly count: number;
  /** Delay between two sends, in microseconds (0: back to back). */
  readonly intervalUs: number;
  /** How long to wait for late echoes after the last send (default 1000 ms; also TCP connect timeout). */
  readonly timeoutMs?: number;
}

/** Options of {@link ProbeAgent.flood}. */
export interface FloodOptions {
  /** How long to send (may be fractional). */
  readonly seconds: number;
  /** UDP payload size in bytes (0..65507). */
  readonly payloadBytes: number;
}

/**
 * Where the build puts the agent: `dist/agent/palisade-probe-agent`, next to this module's
 * `dist/testing` directory.
 */
export function defaultAgentPath(): string {
  return fileURLToPath(new URL('../agent/palisade-probe-agent', import.meta.url));
}

type Reply = Readonly<Record<string, unknown>>;

interface Pending {
  readonly line: string;
  resolve(reply: Reply): void;
  reject(err: ProbeAgentError): void;
}

/** Slack added to every command's own duration before the agent is declared stuck. */
const SLACK_MS = 5000;
const STDERR_KEEP = 4000;

/**
 * One `palisade-probe-agent` process running in a network namespace.
 *
 * Concurrent calls are queued and run one after the other; the agent keeps serving while a
 * command runs, so two agents may probe each other at the same time.
 */
export class ProbeAgent {
  /** The namespace the agent runs in. */
  readonly netns: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private stdoutBuf = '';
  private stderrBuf = '';
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: ProbeAgentError | undefined;
  private closing = false;
  private readonly exited: Promise<void>;

  private constructor(netns: string, child: ChildProcessWithoutNullStreams) {
    this.netns = netns;
    this.child = child;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr.on('data', (chunk: string) => {
      this.stderrBuf = (this.stderrBuf + chunk).slice(-STDERR_KEEP);
    });
    // Writes after the agent died fail with EPIPE; the 'close' handler reports the exit.
    child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        const how = signal ? `signal ${signal}` : `code ${String(code)}`;
        this.fail(
          this.closing
            ? new ProbeAgentError('closed', `probe agent in ${netns} was closed`)
            : new ProbeAgentError(
                'exited',
                `probe agent in ${netns} exited (${how})${this.stderrTail()}`,
              ),
        );
        resolve();
      });
    });
  }

  /**
   * Starts `ip netns exec <netnsName> <agentPath>` and waits until the agent answers.
   *
   * @throws {@link ProbeAgentError} `spawn` when `ip` cannot be run, `exited` when the agent
   * dies at once (unknown namespace, missing binary...).
   */
  static async start(
    netnsName: string,
    agentPath: string = defaultAgentPath(),
  ): Promise<ProbeAgent> {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn('ip', ['netns', 'exec', netnsName, agentPath], { stdio: 'pipe' });
    } catch (cause) {
      throw new ProbeAgentError('spawn', `cannot run ip netns exec ${netnsName}`, { cause });
    }
    const agent = new ProbeAgent(netnsName, child);
    child.on('error', (cause) => {
      agent.fail(
        new ProbeAgentError('spawn', `cannot run ip netns exec ${netnsName}: ${cause.message}`, {
          cause,
        }),
      );
    });
    const hello = await agent.run('hello', SLACK_MS);
    if (hello['agent'] !== 'palisade-probe-agent') {
      agent.kill();
      throw new ProbeAgentError(
        'protocol',
        `unexpected hello from ${agentPath}: ${JSON.stringify(hello)}`,
      );
    }
    return agent;
  }

  /** The operating system's process id of the `ip netns exec` process (the agent after exec). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last few kilobytes the agent wrote on stderr (diagnostics). */
  get stderr(): string {
    return this.stderrBuf;
  }

  /**
   * Serves a port on every IPv4 and IPv6 address: TCP echoes until the peer closes, UDP echoes
   * each datagram to its sender, SCTP (raw socket) answers every INIT with an INIT ACK.
   * Serving an already served port is a no-op (for UDP it switches a counting port back to echo).
   *
   * @throws {@link ProbeAgentError} `command` when the agent cannot open the port.
   */
  async serve(proto: ServeProtocol, port: number): Promise<void> {
    checkPort(port, 1);
    await this.runOk(`serve ${proto} ${port}`, SLACK_MS);
  }

  /**
   * Sends one probe and waits for its echo. TCP: connect, send `ping\n`, read it back. UDP: one
   * datagram, echoed by the server. SCTP: a raw INIT, answered by an INIT ACK with the ports
   * swapped. ICMP: an echo request, `port` being the ICMP identifier (0: random).
   *
   * Failures are results, not exceptions: a dropped packet gives `{ok:false,error:'timeout'}`,
   * a TCP RST `{ok:false,error:'refused'}`.
   */
  async probe(
    proto: ProbeProtocol,
    dst: string,
    port: number,
    options: ProbeOptions,
  ): Promise<ProbeResult> {
    checkAddress(dst);
    checkPort(port, proto === 'icmp' ? 0 : 1);
    checkInt('timeoutMs', options.timeoutMs, 1, 3_600_000);
    let line = `probe ${proto} ${dst} ${port} ${options.timeoutMs}`;
    if (options.srcPort !== undefined) {
      if (proto === 'icmp') throw new ProbeAgentError('invalid', 'icmp probes take no source port');
      checkPort(options.srcPort, 1);
      line += ` ${options.srcPort}`;
    }
    const r = await this.run(line, options.timeoutMs + SLACK_MS);
    return {
      ok: r['ok'] === true,
      ...(typeof r['ms'] === 'number' ? { ms: r['ms'] } : {}),
      ...(typeof r['error'] === 'string' ? { error: r['error'] } : {}),
    };
  }

  /**
   * Sends `count` sequence-numbered messages over one flow (one socket, same 5-tuple), one every
   * `intervalUs`, and counts the echoes. A TCP connection broken midway gives
   * `{ok:false,error:'reset after K'}` (K = echoes received before).
   */
  async stream(
    proto: StreamProtocol,
    dst: string,
    port: number,
    options: StreamOptions,
  ): Promise<StreamResult> {
    checkAddress(dst);
    checkPort(port, 1);
    checkInt('count', options.count, 1, 10_000_000);
    checkInt('intervalUs', options.intervalUs, 0, 60_000_000);
    const timeoutMs = options.timeoutMs ?? 1000;
    checkInt('timeoutMs', timeoutMs, 1, 3_600_000);
    const sendMs = (options.count * options.intervalUs) / 1000;
    const r = await this.run(
      `stream ${proto} ${dst} ${port} ${options.count} ${options.intervalUs} ${timeoutMs}`,
      // connect timeout + sending + late echoes + slack (+ slowness for big back-to-back counts)
      2 * timeoutMs + sendMs * 2 + options.count / 100 + SLACK_MS,
    );
    const lost = r['lost'];
    return {
      ok: r['ok'] === true,
      sent: typeof r['sent'] === 'number' ? r['sent'] : 0,
      received: typeof r['received'] === 'number' ? r['received'] : 0,
      lost: Array.isArray(lost) ? lost.filter((x): x is number => typeof x === 'number') : [],
      ...(typeof r['error'] === 'string' ? { error: r['error'] } : {}),
    };
  }

  /**
   * Sends UDP datagrams to `dst`:`port` as fast as possible for `seconds`, without waiting for
   * anything. Pair with {@link ProbeAgent.count} on the receiving agent.
   *
   * @throws {@link ProbeAgentError} `command` when sending fails outright.
   */
  async flood(
    proto: 'udp',
    dst: string,
    port: number,
    options: FloodOptions,
  ): Promise<FloodResult> {
    checkAddress(dst);
    checkPort(port, 1);
    if (!(options.seconds > 0 && options.seconds <= 3600)) {
      throw new ProbeAgentError('invalid', `seconds must be in (0, 3600], got ${options.seconds}`);
    }
    checkInt('payloadBytes', options.payloadBytes, 0, 65507);
    const r = await this.runOk(
      `flood ${proto} ${dst} ${port} ${options.seconds} ${options.payloadBytes}`,
      options.seconds * 1000 + SLACK_MS,
    );
    return { sent: num(r, 'sent'), seconds: num(r, 'seconds') };
  }

  /**
   * Serves a UDP port in counting mode: datagrams are counted, not echoed. Resets the counter.
   *
   * @throws {@link ProbeAgentError} `command` when the port cannot be opened.
   */
  async count(proto: 'udp', port: number): Promise<void> {
    checkPort(port, 1);
    await this.runOk(`count ${proto} ${port}`, SLACK_MS);
  }

  /**
   * Datagrams received so far on a counting port.
   *
   * @throws {@link ProbeAgentError} `command` when the port is not counting.
   */
  async counted(port: number): Promise<number> {
    checkPort(port, 1);
    return num(await this.runOk(`counted ${port}`, SLACK_MS), 'received');
  }

  /** Asks the agent to quit (killing it if it does not) and waits for it to exit. Idempotent. */
  async close(): Promise<void> {
    if (!this.closing && !this.failure) {
      this.closing = true;
      this.child.stdin.end('quit\n');
    }
    this.closing = true;
    const timer = setTimeout(() => this.kill(), 2000);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private stderrTail(): string {
    const t = this.stderrBuf.trim();
    return t ? `: ${t.slice(-500)}` : '';
  }

  /** Marks the agent unusable: rejects the pending command and all future ones. */
  private fail(err: ProbeAgentError): void {
    this.failure ??= err;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(this.failure);
    if (err.code === 'timeout' || err.code === 'protocol') this.kill();
  }

  private onStdout(chunk: string): void {
    this.stdoutBuf += chunk;
    let nl: number;
    while ((nl = this.stdoutBuf.indexOf('\n')) >= 0) {
      const text = this.stdoutBuf.slice(0, nl);
      this.stdoutBuf = this.stdoutBuf.slice(nl + 1);
      const p = this.pending;
      if (!p) {
        if (!this.closing) {
          this.fail(new ProbeAgentError('protocol', `unexpected output from the agent: ${text}`));
        }
        continue;
      }
      this.pending = undefined;
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        reply = undefined;
      }
      if (
        typeof reply !== 'object' ||
        reply === null ||
        typeof (reply as Reply)['ok'] !== 'boolean'
      ) {
        const err = new ProbeAgentError('protocol', `bad reply to '${p.line}': ${text}`);
        p.reject(err);
        this.fail(err);
        continue;
      }
      p.resolve(reply as Reply);
    }
  }

  /** Queues one command; resolves with its reply, whatever `ok` says. */
  private run(line: string, budgetMs: number): Promise<Reply> {
    const result = this.queue.then(() => this.exchange(line, budgetMs));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Like {@link ProbeAgent.run}, but `{"ok":false}` becomes a `command` error. */
  private async runOk(line: string, budgetMs: number): Promise<Reply> {
    const r = await this.run(line, budgetMs);
    if (r['ok'] !== true) {
      const why = typeof r['error'] === 'string' ? r['error'] : JSON.stringify(r);
      throw new ProbeAgentError('command', `${this.netns}: '${line}' failed: ${why}`);
    }
    return r;
  }

  private exchange(line: string, budgetMs: number): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) {
      return Promise.reject(
        new ProbeAgentError('closed', `probe agent in ${this.netns} was closed`),
      );
    }
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new ProbeAgentError(
            'timeout',
            `probe agent in ${this.netns} did not answer '${line}' within ${Math.round(budgetMs)} ms`,
          ),
        );
      }, budgetMs);
      this.pending = {
        line,
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.child.stdin.write(`${line}\n`);
    });
  }
}

function num(r: Reply, key: string): number {
  const v = r[key];
  if (typeof v !== 'number') {
    throw new ProbeAgentError('protocol', `reply has no number '${key}': ${JSON.stringify(r)}`);
  }
  return v;
}

function checkInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ProbeAgentError(
      'invalid',
      `${what} must be an integer in [${min}, ${max}], got ${v}`,
    );
  }
}

function checkPort(port: number, min: number): void {
  checkInt('port', port, min, 65535);
}

/** Only guards the line protocol; the agent itself validates the address. */
function checkAddress(dst: string): void {
  if (dst === '' || /\s/.test(dst)) {
    throw new ProbeAgentError('invalid', `bad address ${JSON.stringify(dst)}`);
  }
}
