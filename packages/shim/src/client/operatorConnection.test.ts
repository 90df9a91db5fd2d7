/**
 * The distribution client against a real grpc-js server over mutual TLS (certificates
 * made with openssl): snapshot, deltas and acks; reconnects carrying the held revision;
 * gap → resync → snapshot; an operator restart; certificate bootstrap and renewal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { canonicalState } from '@palisade/core';
import {
  deltaFrame,
  distributionService,
  palisadeGrpc,
  type IssueRequest__Output,
  type IssueResponse,
  type NodeMessage__Output,
} from '@palisade/api';
import { silentLogger } from '../log.js';
import { Backoff } from '@palisade/core';
import { systemClock, type Clock } from './clock.js';
import { BootstrapCredentials, FileCredentials } from './credentials.js';
import { grpcIssuer } from './issuer.js';
import { OperatorConnection } from './operatorConnection.js';
import { PolicyStream } from './policyStream.js';
import { makePki, type TestPki } from './testPki.js';
import { allowDelta, piece, podDelta, snapshotFrames, stateOf } from './testFrames.js';

const SERVER_NAME = 'palisade-operator.palisade-system.svc';
const A = podDelta(100, 'a', '10.0.0.1');
const B = podDelta(101, 'b', '10.0.0.2');
const AB = allowDelta(100, 101, 80);
const AB443 = allowDelta(100, 101, 443);
const canon = (...d: Parameters<typeof stateOf>): string => canonicalState(stateOf(...d));

/** An unbounded queue whose `next` fails after a timeout (so a test never hangs). */
class Queue<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((t: T) => void)[] = [];

  push(t: T): void {
    const w = this.waiters.shift();
    if (w) w(t);
    else this.items.push(t);
  }

  async next(what: string, timeoutMs = 10_000): Promise<T> {
    const t = this.items.shift();
    if (t !== undefined) return t;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<T>((resolve, reject) => {
        this.waiters.push(resolve);
        timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(resolve), 1);
          reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

type SubscribeCall = grpc.ServerDuplexStream<NodeMessage__Output, Buffer>;

/** One Subscribe call as the test operator sees it. */
interface Session {
  readonly call: SubscribeCall;
  readonly messages: Queue<NodeMessage__Output>;
  /** CN and fingerprint of the client certificate. */
  readonly peerCn: string | undefined;
  readonly peerFingerprint: string | undefined;
  write(frames: readonly Buffer[]): void;
}

/** A grpc-js server scripted by the test. */
class TestOperator {
  readonly sessions = new Queue<Session>();
  readonly issued: IssueRequest__Output[] = [];
  validToken = 'good-token';
  private server: grpc.Server | undefined;

  constructor(private readonly pki: TestPki) {}

  /** Serves with mutual TLS on `port` (0: any), and with TLS only on a second port. */
  async start(port = 0): Promise<{ port: number; tlsPort: number }> {
    const server = new grpc.Server();
    server.addService(distributionService(), {
      Subscribe: (call: SubscribeCall) => {
        const messages = new Queue<NodeMessage__Output>();
        call.on('data', (m: NodeMessage__Output) => messages.push(m));
        call.on('error', () => {});
        const peer = call.getAuthContext().sslPeerCertificate;
        const cn = peer?.subject.CN;
        this.sessions.push({
          call,
          messages,
          peerCn: Array.isArray(cn) ? cn.join(',') : cn,
          peerFingerprint: peer?.fingerprint256,
          write: (frames) => {
            for (const f of frames) call.write(f);
          },
        });
      },
    });
    server.addService(palisadeGrpc().palisade.v1.Certificates.service, {
      Issue: (
        call: grpc.ServerUnaryCall<IssueRequest__Output, IssueResponse>,
        cb: grpc.sendUnaryData<IssueResponse>,
      ) => {
        const r = call.request;
        if (r.token !== this.validToken) {
          cb({ code: grpc.status.PERMISSION_DENIED, details: 'token refused' });
          return;
        }
        this.issued.push(r);
        cb(null, {
          certificatePem: this.pki.sign(r.publicKeyPem, r.node),
          caPem: this.pki.ca.toString(),
          notAfterUnixMs: Date.now() + 86_400_000,
        });
      },
    });
    const pair = [{ private_key: this.pki.server.key, cert_chain: this.pki.server.cert }];
    const bind = (addr: string, creds: grpc.ServerCredentials): Promise<number> =>
      new Promise((resolve, reject) =>
        server.bindAsync(addr, creds, (err, p) => (err ? reject(err) : resolve(p))),
      );
    const mtls = await bind(
      `127.0.0.1:${port}`,
      grpc.ServerCredentials.createSsl(this.pki.ca, pair, true),
    );
    const tls = await bind(
      '127.0.0.1:0',
      grpc.ServerCredentials.createSsl(this.pki.ca, pair, false),
    );
    this.server = server;
    return { port: mtls, tlsPort: tls };
  }

  /** Drops every connection at once (an operator crash). */
  kill(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }
}

async function nextOf(s: Session, body: 'hello' | 'ack' | 'resync'): Promise<NodeMessage__Output> {
  const m = await s.messages.next(body);
  assert.equal(m.body, body, `expected ${body}, got ${JSON.stringify(m)}`);
  return m;
}

async function until(what: string, f: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('operator connection', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki(SERVER_NAME);
  });
  after(() => pki.cleanup());

  it('subscribes over mTLS, acks, reconnects with the held revision, resyncs a gap', async () => {
    const op = new TestOperator(pki);
    const { port } = await op.start();
    const client = pki.client('node-a');
    const applied: string[] = [];
    const stream = new PolicyStream({
      node: 'node-a',
      log: silentLogger,
      apply: (s) => void applied.push(canonicalState(s)),
    });
    const conn = new OperatorConnection({
      target: `127.0.0.1:${port}`,
      tlsServerName: SERVER_NAME,
      credentials: new FileCredentials({
        caFile: pki.caFile,
        certFile: client.certFile,
        keyFile: client.keyFile,
      }),
      stream,
      log: silentLogger,
      backoff: new Backoff({ initialMs: 50, maxMs: 200 }),
    });
    conn.start();
    try {
      const s1 = await op.sessions.next('first stream');
      assert.equal(s1.peerCn, 'node-a');
      const hello = await nextOf(s1, 'hello');
      assert.deepEqual(
        { node: hello.hello?.node, epoch: hello.hello?.epoch, revision: hello.hello?.revision },
        { node: 'node-a', epoch: '', revision: 0 },
      );
      s1.write(snapshotFrames('e1', 10, [A, B]));
      const ack10 = await nextOf(s1, 'ack');
      assert.equal(ack10.ack?.revision, 10);
      assert.ok(Math.abs((ack10.ack?.appliedAtUnixMs ?? 0) - Date.now()) < 10_000);
      s1.write([deltaFrame('e1', 12, 10, [piece(AB)])]);
      assert.equal((await nextOf(s1, 'ack')).ack?.revision, 12);
      assert.deepEqual(applied, [canon(A, B), canon(A, B, AB)]);
      const st = conn.status();
      assert.equal(st.connected, true);
      assert.equal(st.revision, 12);
      assert.equal(st.streams, 1);

      // The operator ends the stream: the client comes back with where it is.
      s1.call.end();
      const s2 = await op.sessions.next('second stream');
      const hello2 = await nextOf(s2, 'hello');
      assert.equal(hello2.hello?.epoch, 'e1');
      assert.equal(hello2.hello?.revision, 12);
      s2.write([deltaFrame('e1', 13, 12, [piece(AB443)])]);
      assert.equal((await nextOf(s2, 'ack')).ack?.revision, 13);

      // A lost delta: the client asks for a snapshot and keeps the kernel meanwhile.
      s2.write([deltaFrame('e1', 20, 15, [piece(AB)])]);
      const resync = await nextOf(s2, 'resync');
      assert.match(resync.resync?.reason ?? '', /gap/);
      assert.equal(applied.length, 3, 'nothing applied for the gap');
      s2.write(snapshotFrames('e1', 20, [A, B, AB]));
      assert.equal((await nextOf(s2, 'ack')).ack?.revision, 20);
      assert.equal(applied.at(-1), canon(A, B, AB));

      // The operator dies and comes back on the same port after a while.
      op.kill();
      await until('the disconnect', () => !conn.status().connected);
      await sleep(300);
      assert.match(conn.status().lastDisconnect?.reason ?? '', /UNAVAILABLE/);
      await op.start(port);
      const s3 = await op.sessions.next('stream after the restart');
      const hello3 = await nextOf(s3, 'hello');
      assert.equal(hello3.hello?.revision, 20);
      // A new leader (new epoch) cannot continue: it sends a snapshot, applied as a whole.
      s3.write(snapshotFrames('e2', 1, [A, B, AB, AB443]));
      assert.equal((await nextOf(s3, 'ack')).ack?.revision, 1);
      assert.equal(conn.status().epoch, 'e2');
      assert.equal(applied.at(-1), canon(A, B, AB, AB443));
    } finally {
      conn.stop();
      op.kill();
    }
  });

  it('is refused without a client certificate the CA signed, and keeps retrying', async () => {
    const op = new TestOperator(pki);
    const { port } = await op.start();
    const other = makePki(SERVER_NAME);
    const foreign = other.client('node-a');
    const stream = new PolicyStream({ node: 'node-a', log: silentLogger, apply: () => {} });
    const conn = new OperatorConnection({
      target: `127.0.0.1:${port}`,
      tlsServerName: SERVER_NAME,
      credentials: {
        current: () =>
          Promise.resolve({
            ca: pki.ca,
            key: foreign.key,
            cert: foreign.cert,
            notAfterMs: Date.now() + 3_600_000,
          }),
        renew: () => Promise.reject(new Error('unused')),
      },
      stream,
      log: silentLogger,
      backoff: new Backoff({ initialMs: 20, maxMs: 50 }),
    });
    conn.start();
    try {
      await until('two refused attempts', () => conn.status().streams >= 2);
      assert.equal(conn.status().connected, false);
      assert.ok(conn.status().lastDisconnect, 'the refusal is in the status');
    } finally {
      conn.stop();
      op.kill();
      other.cleanup();
    }
  });

  it('bootstraps its certificate with a token, and renews it at 2/3 of its lifetime', async () => {
    const op = new TestOperator(pki);
    const { port, tlsPort } = await op.start();
    const tokenFile = join(pki.dir, 'token');
    writeFileSync(tokenFile, 'stale-token\n');
    // Real timers (cut to at most 100 ms), and a time that the test can move forward.
    let offset = 0;
    const clock: Clock = {
      now: () => Date.now() + offset,
      schedule: (fn, ms) => systemClock.schedule(fn, Math.min(ms, 100)),
    };
    const applied: string[] = [];
    const stream = new PolicyStream({
      node: 'node-a',
      log: silentLogger,
      apply: (s) => void applied.push(canonicalState(s)),
    });
    const conn = new OperatorConnection({
      target: `127.0.0.1:${port}`,
      tlsServerName: SERVER_NAME,
      credentials: new BootstrapCredentials({
        node: 'node-a',
        caFile: pki.caFile,
        tokenFile,
        issue: grpcIssuer({ target: `127.0.0.1:${tlsPort}`, tlsServerName: SERVER_NAME }),
        clock,
      }),
      stream,
      log: silentLogger,
      clock,
      backoff: new Backoff({ initialMs: 20, maxMs: 50 }),
    });
    conn.start();
    try {
      await until('a refused bootstrap', () =>
        /token refused/.test(conn.status().lastDisconnect?.reason ?? ''),
      );
      assert.equal(conn.status().streams, 0);
      writeFileSync(tokenFile, 'good-token\n'); // the kubelet rotated the projected token
      const s1 = await op.sessions.next('first stream');
      assert.equal(s1.peerCn, 'node-a');
      assert.equal(op.issued.length, 1);
      assert.equal(op.issued[0]?.node, 'node-a');
      assert.match(op.issued[0]?.publicKeyPem ?? '', /BEGIN PUBLIC KEY/);
      await nextOf(s1, 'hello');
      s1.write(snapshotFrames('e1', 10, [A]));
      assert.equal((await nextOf(s1, 'ack')).ack?.revision, 10);
      const st = conn.status();
      const lifetime = Date.parse(st.certificateNotAfter ?? '') - Date.now();
      const renewIn = Date.parse(st.certificateRenewAt ?? '') - Date.now();
      assert.ok(Math.abs(renewIn / lifetime - 2 / 3) < 0.05, `${renewIn} of ${lifetime}`);

      // 20 hours later (of a 24-hour certificate): a new key pair, a new certificate, a new stream.
      offset = 20 * 3_600_000;
      const s2 = await op.sessions.next('stream with the renewed certificate');
      assert.equal(op.issued.length, 2);
      assert.notEqual(op.issued[1]?.publicKeyPem, op.issued[0]?.publicKeyPem);
      assert.notEqual(s2.peerFingerprint, s1.peerFingerprint);
      assert.equal(s2.peerCn, 'node-a');
      const hello = await nextOf(s2, 'hello');
      assert.equal(hello.hello?.revision, 10, 'it continues from where it was');
      assert.deepEqual(applied, [canon(A)]);
    } finally {
      conn.stop();
      op.kill();
    }
  });
});
