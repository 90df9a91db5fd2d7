/**
 * A throwaway PKI for tests, made with the `openssl` CLI in a temporary directory under
 * /dev/shm: a CA, an operator (server) certificate for one DNS name, client certificates
 * for nodes, and signing of a bare public key (what `Certificates.Issue` does).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A key and its certificate (PEM). */
export interface KeyCert {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly keyFile: string;
  readonly certFile: string;
}

/** A CA and what it signed, in a directory removed by `cleanup`. */
export interface TestPki {
  readonly dir: string;
  readonly ca: Buffer;
  readonly caFile: string;
  /** The operator's certificate, for `serverName` only (no IP address). */
  readonly server: KeyCert;
  /** A client certificate with CN=`node`. */
  client(node: string, name?: string): KeyCert;
  /** Signs a public key (PEM) into a client certificate with CN=`cn`; returns it (PEM). */
  sign(publicKeyPem: string, cn: string): string;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes a CA and an operator certificate for `serverName`. */
export function makePki(serverName: string): TestPki {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'palisade-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    dir,
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt'].concat([
      '-subj',
      '/CN=palisade-test-ca',
      '-days',
      '2',
    ]),
  );
  let serial = 1;
  const issue = (name: string, subject: string, ext: string): KeyCert => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      String(serial++),
      '-days',
      '1',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    ]);
    return {
      key: readFileSync(join(dir, `${name}.key`)),
      cert: readFileSync(join(dir, `${name}.crt`)),
      keyFile: join(dir, `${name}.key`),
      certFile: join(dir, `${name}.crt`),
    };
  };
  const server = issue(
    'server',
    '/CN=palisade-operator',
    `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`,
  );
  let signed = 0;
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.crt')),
    caFile: join(dir, 'ca.crt'),
    server,
    client: (node, name = `client-${node}`) =>
      issue(name, `/CN=${node}`, 'extendedKeyUsage=clientAuth\n'),
    sign(publicKeyPem, cn) {
      const n = signed++;
      writeFileSync(join(dir, `pub${n}.pem`), publicKeyPem);
      writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
      openssl(dir, [
        'x509',
        '-new',
        '-force_pubkey',
        `pub${n}.pem`,
        '-subj',
        `/CN=${cn}`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(1000 + n),
        '-days',
        '1',
        '-extfile',
        'client.ext',
        '-out',
        `issued${n}.crt`,
      ]);
      return readFileSync(join(dir, `issued${n}.crt`), 'utf8');
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
