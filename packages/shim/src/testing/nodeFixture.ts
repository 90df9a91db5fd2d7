/**
 * A node for privileged tests: a network namespace with forwarding on, a shim process
 * running in it (the real binary, on a bpffs outside /sys so pins survive restarts), and
 * pods wired by the real CNI plugin. Policies and pod objects are written as YAML into the
 * shim's policy directory (its local source). Everything is removed by `close()`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { callShim } from '../api/client.js';

const DIST = fileURLToPath(new URL('..', import.meta.url));
/** The shim binary. */
export const SHIM_MAIN = join(DIST, 'main.js');
/**
 * The command line that runs the shim's bin as executing `palisade-shim` does: the node
 * flags of its shebang (`#!/usr/bin/env -S node <flags>`), with this process's node.
 */
export function shimCommand(): string[] {
  const first = readFileSync(SHIM_MAIN, 'utf8').split('\n', 1)[0] ?? '';
  const words = first.startsWith('#!') ? first.slice(2).trim().split(/\s+/) : [];
  if (words[0]?.endsWith('/env')) words.shift();
  if (words[0] === '-S') words.shift();
  const flags = words[0] === 'node' ? words.slice(1) : [];
  return [process.execPath, ...flags, SHIM_MAIN];
}
/** The CNI plugin binary. */
export const CNI_MAIN = join(DIST, 'cni', 'main.js');
/** Where tests mount their bpffs (outside /sys, which `ip netns exec` remounts). */
export const TEST_BPFFS = '/run/palisade/bpffs';

/** Mounts a bpffs at `path` unless one is there. */
export function ensureBpffs(path = TEST_BPFFS): string {
  mkdirSync(path, { recursive: true });
  if (statfsSync(path).type !== 0xcafe4a11) execFileSync('mount', ['-t', 'bpf', 'bpf', path]);
  return path;
}

/** Why privileged tests cannot run here, or undefined when they can. */
export function privilegedSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF, network namespaces)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (`ip`)';
  }
  return undefined;
}

/** Runs `ip` and returns its stdout. */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** A pod created on a test node. */
export interface TestPod {
  readonly namespace: string;
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
  readonly ipv4: string;
  readonly ipv6: string;
  readonly labels: Record<string, string>;
  readonly ports: readonly { name?: string; containerPort: number; protocol: string }[];
}

/** Options of a test node. */
export interface NodeFixtureOptions {
  /** Extra arguments for the shim. */
  readonly shimArgs?: readonly string[];
  /** Pod subnets (default 10.<n>.0.0/24 and fd00:<n>::/120 with n from the pid). */
  readonly subnets?: readonly [string, string];
}

let seq = 0;

/** A test node. */
export class NodeFixture {
  readonly dir: string;
  readonly policyDir: string;
  readonly socket: string;
  readonly pods: TestPod[] = [];
  private shim: ChildProcess | undefined;
  private shimLog = '';
  private readonly namespaces = new Map<string, Record<string, string>>();
  private readonly subnets: readonly [string, string];

  private constructor(
    readonly name: string,
    private readonly opts: NodeFixtureOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `${name}-`));
    this.policyDir = join(this.dir, 'policy');
    mkdirSync(this.policyDir);
    this.socket = join(this.dir, 'shim.sock');
    const n = (process.pid % 200) + 20;
    this.subnets = opts.subnets ?? [`10.${n}.${seq % 250}.0/24`, `fd00:${n}:${seq % 250}::/120`];
  }

  /** Creates the node's namespace (no shim yet). */
  static create(label: string, opts: NodeFixtureOptions = {}): NodeFixture {
    ensureBpffs();
    seq++;
    const name = `pt${process.pid % 100000}${label}${seq}`.slice(0, 15);
    const f = new NodeFixture(name, opts);
    ip('netns', 'add', name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    execFileSync('ip', [
      'netns',
      'exec',
      name,
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
    ]);
    return f;
  }

  /** Where the node's maps are pinned. */
  get pinDir(): string {
    return join(TEST_BPFFS, 'palisade', this.name);
  }

  /**
   * Starts the shim (in the node's namespace) and waits until its API answers. It reads the
   * policy directory, or with `compiled` a compiled snapshot file, or with `operator` the
   * operator's stream (the flags `--operator …`, `--ca-file …` and the credentials).
   */
  async startShim(
    extra: readonly string[] = [],
    source: { compiled?: string; operator?: readonly string[] } = {},
  ): Promise<void> {
    if (this.shim) throw new Error('shim already running');
    const args = [
      'netns',
      'exec',
      this.name,
      ...shimCommand(),
      '--node',
      this.name,
      '--bpffs',
      TEST_BPFFS,
      ...(source.operator
        ? source.operator
        : source.compiled
          ? ['--compiled', source.compiled]
          : ['--policy-dir', this.policyDir]),
      '--socket',
      this.socket,
      '--state-dir',
      join(this.dir, 'state'),
      '--source-interval',
      '100',
      ...(this.opts.shimArgs ?? []),
      ...extra,
    ];
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => {
      this.shimLog += d.toString();
    });
    this.shim = child;
    const deadline = Date.now() + 15000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`shim exited with ${child.exitCode}: ${this.shimLog}`);
      try {
        await callShim(this.socket, 'GET', '/healthz', undefined, 1000);
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`shim did not start: ${this.shimLog}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Stops the shim: SIGKILL (a crash) or SIGTERM. */
  async stopShim(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    const c = this.shim;
    if (!c) return;
    this.shim = undefined;
    if (c.exitCode !== null) return;
    const done = new Promise<void>((r) => c.once('exit', () => r()));
    // `ip netns exec` execs the command, so the child is the shim itself.
    c.kill(signal);
    await done;
  }

  /** The shim's process id, while it runs (`ip netns exec` execs it, so it is the child's). */
  get shimPid(): number | undefined {
    return this.shim?.pid;
  }

  /** The shim's stderr so far. */
  get log(): string {
    return this.shimLog;
  }

  /** Calls the shim's local API. */
  api(method: string, path: string, body?: unknown): Promise<unknown> {
    return callShim(this.socket, method, path, body);
  }

  /** Sets a namespace's labels (written with the next `writePods`). */
  namespace(name: string, labels: Record<string, string> = {}): void {
    this.namespaces.set(name, labels);
  }

  /** Creates a pod: its netns, then the real CNI plugin's ADD (which registers it with the shim). */
  addPod(
    namespace: string,
    name: string,
    labels: Record<string, string>,
    ports: TestPod['ports'] = [],
  ): TestPod {
    if (!this.namespaces.has(namespace)) this.namespace(namespace);
    const netns = `${this.name}-${this.pods.length}`;
    ip('netns', 'add', netns);
    const containerId = `${this.name}-${namespace}-${name}`;
    const out = this.cni(
      'ADD',
      containerId,
      netns,
      `K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name}`,
    );
    const result = JSON.parse(out.stdout) as { ips?: { address: string }[]; msg?: string };
    if (out.status !== 0 || !result.ips)
      throw new Error(`CNI ADD failed (${out.status}): ${out.stdout} ${out.stderr}`);
    const addr = (v6: boolean): string =>
      (result.ips ?? [])
        .map((i) => i.address.split('/')[0] ?? '')
        .find((a) => a.includes(':') === v6) ?? '';
    const pod: TestPod = {
      namespace,
      name,
      netns,
      containerId,
      ipv4: addr(false),
      ipv6: addr(true),
      labels,
      ports,
    };
    this.pods.push(pod);
    return pod;
  }

  /** Runs the CNI plugin in the node's namespace. */
  cni(
    command: string,
    containerId: string,
    netns: string,
    args = '',
    config: unknown = this.cniConfig(),
  ): { status: number; stdout: string; stderr: string } {
    try {
      const stdout = execFileSync('ip', ['netns', 'exec', this.name, process.execPath, CNI_MAIN], {
        input: typeof config === 'string' ? config : JSON.stringify(config),
        encoding: 'utf8',
        env: {
          ...process.env,
          CNI_COMMAND: command,
          CNI_CONTAINERID: containerId,
          CNI_NETNS: `/var/run/netns/${netns}`,
          CNI_IFNAME: 'eth0',
          CNI_ARGS: args,
          CNI_PATH: '/opt/cni/bin',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      return { status: 0, stdout, stderr: '' };
    } catch (e) {
      const x = e as { status?: number; stdout?: string; stderr?: string };
      return { status: x.status ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  }

  /** The CNI network configuration of this node. */
  cniConfig(): Record<string, unknown> {
    return {
      cniVersion: '1.0.0',
      name: 'palisade',
      type: 'palisade-cni',
      shimSocket: this.socket,
      ipam: { subnets: this.subnets, dataDir: join(this.dir, 'ipam') },
    };
  }

  /** The Namespace and Pod objects of this node, as the shim's local source reads them. */
  objects(): unknown[] {
    const out: unknown[] = [];
    for (const [name, labels] of this.namespaces)
      out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    for (const p of this.pods)
      out.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: p.name, namespace: p.namespace, labels: p.labels },
        spec: { nodeName: this.name, containers: [{ name: 'c', ports: p.ports }] },
        status: {
          phase: 'Running',
          podIP: p.ipv4,
          podIPs: [{ ip: p.ipv4 }, { ip: p.ipv6 }],
        },
      });
    return out;
  }

  /** Writes the namespaces and pods into the policy directory. */
  writePods(): void {
    writeFileSync(
      join(this.policyDir, '00-pods.yaml'),
      this.objects()
        .map((o) => stringify(o))
        .join('---\n'),
    );
  }

  /** Writes (or, with undefined, removes) a policy file. */
  writePolicy(file: string, objects: readonly unknown[] | undefined): void {
    const path = join(this.policyDir, file);
    if (objects === undefined) rmSync(path, { force: true });
    else writeFileSync(path, objects.map((o) => stringify(o)).join('---\n'));
  }

  /** Makes the shim re-read its policy directory now; resolves once applied. */
  async apply(): Promise<unknown> {
    return this.api('POST', '/v1/reload');
  }

  /** Stops the shim and removes pods, namespaces, pins and files. */
  async close(): Promise<void> {
    await this.stopShim('SIGKILL');
    for (const p of this.pods) {
      try {
        ip('netns', 'del', p.netns);
      } catch {
        // already gone
      }
    }
    try {
      ip('netns', 'del', this.name);
    } catch {
      // already gone
    }
    rmSync(this.pinDir, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
