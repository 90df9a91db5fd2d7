/**
 * Test support: an in-memory stand-in for `ip` and `/proc/sys`, enough of iproute2 for the
 * commands palisade-cni runs (veth add/del, link up, addr add, route add, `-j addr show`).
 * Used by the CNI plugin's unit tests only.
 */
import { CniError } from './errors.js';
import type { LinkDeps } from './veth.js';

/** One fake link. */
export interface FakeLink {
  ifindex: number;
  ifname: string;
  ns: string;
  mac: string;
  mtu: number;
  up: boolean;
  peer?: FakeLink;
  addrs: { family: 'inet' | 'inet6'; local: string; prefixlen: number }[];
}

/** The fake kernel: links per netns ('' is the node's), commands and sysctls seen. */
export class FakeLinks implements LinkDeps {
  readonly links: FakeLink[] = [];
  readonly commands: string[] = [];
  readonly sysctls = new Map<string, string>();
  /** When it returns true for a command line, the command fails like `ip` would. */
  failWhen: (cmd: string) => boolean = () => false;
  private nextIndex = 10;

  /** The link called `name` in netns `ns`. */
  find(name: string, ns = ''): FakeLink | undefined {
    return this.links.find((l) => l.ifname === name && l.ns === ns);
  }

  private add(ifname: string, ns: string, mtu: number): FakeLink {
    const i = this.nextIndex++;
    const l: FakeLink = {
      ifindex: i,
      ifname,
      ns,
      mac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`,
      mtu,
      up: false,
      addrs: [],
    };
    this.links.push(l);
    return l;
  }

  private must(name: string, ns: string): FakeLink {
    const l = this.find(name, ns);
    if (!l) throw new CniError('LinkSetupFailed', `Cannot find device "${name}"`);
    return l;
  }

  readonly ip = (argv: readonly string[]): string => {
    const cmd = argv.join(' ');
    this.commands.push(cmd);
    if (this.failWhen(cmd))
      throw new CniError('LinkSetupFailed', `ip ${cmd}: RTNETLINK answers: failure injected`);
    let args = [...argv];
    let ns = '';
    if (args[0] === '-n') {
      ns = args[1]!;
      args = args.slice(2);
      if (!this.find('lo', ns)) this.add('lo', ns, 65536);
    }
    if (args[0] === '-4' || args[0] === '-6') args = args.slice(1);
    const [a, b, ...rest] = args;
    if (a === '-j' && b === 'addr') {
      return JSON.stringify(
        this.links
          .filter((l) => l.ns === ns)
          .map((l) => ({
            ifindex: l.ifindex,
            ifname: l.ifname,
            flags: l.up ? ['BROADCAST', 'UP'] : ['BROADCAST'],
            mtu: l.mtu,
            address: l.mac,
            addr_info: l.addrs,
          })),
      );
    }
    if (a === 'link' && b === 'add') {
      // link add H mtu M type veth peer name P mtu M netns NS
      const [host, , mtu, , , , , podIf, , , , podNs] = rest;
      if (this.find(host!, ns) || this.find(podIf!, podNs)) {
        throw new CniError('LinkSetupFailed', 'RTNETLINK answers: File exists');
      }
      const h = this.add(host!, ns, Number(mtu));
      const p = this.add(podIf!, podNs!, Number(mtu));
      h.peer = p;
      p.peer = h;
      return '';
    }
    if (a === 'link' && b === 'del') {
      const l = this.must(rest[1]!, ns);
      for (const x of [l, l.peer]) if (x) this.links.splice(this.links.indexOf(x), 1);
      return '';
    }
    if (a === 'link' && b === 'set') {
      this.must(rest[1]!, ns).up = rest[2] === 'up';
      return '';
    }
    if (a === 'addr' && b === 'add') {
      const [cidr, , dev] = rest;
      const [local, len] = cidr!.split('/');
      this.must(dev!, ns).addrs.push({
        family: local!.includes(':') ? 'inet6' : 'inet',
        local: local!,
        prefixlen: Number(len),
      });
      return '';
    }
    if (a === 'route') return '';
    throw new CniError('LinkSetupFailed', `fake ip: unsupported command ${cmd}`);
  };

  readonly sysctl = (path: string, value: string): void => {
    this.sysctls.set(path, value);
  };
}
