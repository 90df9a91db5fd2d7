/**
 * The persistent, host-local style address store: `<dataDir>/<network>/` holds one file per
 * allocated address (file name = the address, content `<containerId>\n<ifName>`) and a
 * `last_reserved_ip.<family>` file per family to continue round-robin.
 *
 * Address files are created with `O_CREAT | O_EXCL` (flag `wx`), so concurrent plugin
 * invocations, in one process or many, never hand out one address twice. No lock is taken.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatAddress, formatPrefix, parseAddress, prefixContainsAddress } from '@palisade/core';
import type { Address, Family, Prefix } from '@palisade/core';
import { CniError, messageOf } from './errors.js';
import { candidateOrder, isUsable } from './ipRange.js';

/** Who holds an address: one interface of one container. */
export interface Owner {
  readonly containerId: string;
  readonly ifName: string;
}

/** An address handed to an owner. */
export interface Allocation {
  readonly subnet: Prefix;
  readonly address: Address;
  /** True when the owner already held this address before the call. */
  readonly reused: boolean;
}

/** Name of the round-robin hint file of a family. */
export function lastReservedFile(family: Family): string {
  return `last_reserved_ip.${family}`;
}

/** The content of an address file. */
export function ownerRecord(owner: Owner): string {
  return `${owner.containerId}\n${owner.ifName}`;
}

/** True when an address file's content names `owner` (tolerates `\r\n` and trailing space). */
export function recordMatches(content: string, owner: Owner): boolean {
  const [id, ifName] = content.split(/\r?\n/).map((l) => l.trim());
  return id === owner.containerId && ifName === owner.ifName;
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

function storeFailure(what: string, err: unknown): CniError {
  return new CniError('IpamStoreFailed', `IPAM store: ${what}: ${messageOf(err)}`, { cause: err });
}

/** The address store of one network. */
export class IpamStore {
  /** The directory holding this network's files. */
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  /** Addresses held by `owner` (in any subnet), in file-name order. */
  async owned(owner: Owner): Promise<Address[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw storeFailure(`cannot list ${this.dir}`, err);
    }
    // Read in parallel: a node's store holds one file per pod.
    const found = await Promise.all(
      names.sort().map(async (name) => {
        const addr = parseAddress(name);
        if (!addr) return undefined;
        try {
          const content = await readFile(join(this.dir, name), 'utf8');
          return recordMatches(content, owner) ? addr : undefined;
        } catch (err) {
          if (isErrno(err, 'ENOENT')) return undefined; // released meanwhile
          throw storeFailure(`cannot read ${join(this.dir, name)}`, err);
        }
      }),
    );
    const out = found.filter((a): a is Address => a !== undefined);
    return out;
  }

  /**
   * One address per subnet for `owner`. An address the owner already holds is reused.
   * When one subnet fails, the addresses allocated by this call are released again.
   */
  async allocate(subnets: readonly Prefix[], owner: Owner): Promise<Allocation[]> {
    const held = await this.owned(owner);
    const out: Allocation[] = [];
    try {
      for (const subnet of subnets) out.push(await this.allocateIn(subnet, owner, held));
    } catch (err) {
      for (const a of out) if (!a.reused) await this.releaseAddress(a.address);
      throw err;
    }
    return out;
  }

  private async allocateIn(
    subnet: Prefix,
    owner: Owner,
    held: readonly Address[],
  ): Promise<Allocation> {
    const mine = held.find((a) => prefixContainsAddress(subnet, a) && isUsable(subnet, a.addr));
    if (mine) return { subnet, address: mine, reused: true };
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw storeFailure(`cannot create ${this.dir}`, err);
    }
    const last = await this.lastReserved(subnet);
    for (const candidate of candidateOrder(subnet, last)) {
      const address: Address = { family: subnet.family, addr: candidate };
      if (await this.claim(address, owner)) {
        await this.writeLastReserved(address);
        return { subnet, address, reused: false };
      }
    }
    throw new CniError('AddressExhausted', `no free address in ${formatPrefix(subnet)}`);
  }

  /** Creates the address file exclusively; false when another owner holds the address. */
  private async claim(address: Address, owner: Owner): Promise<boolean> {
    const path = join(this.dir, formatAddress(address));
    let fh;
    try {
      fh = await open(path, 'wx', 0o644);
    } catch (err) {
      if (isErrno(err, 'EEXIST')) return false;
      throw storeFailure(`cannot create ${path}`, err);
    }
    try {
      await fh.writeFile(ownerRecord(owner));
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(path, { force: true });
      throw storeFailure(`cannot write ${path}`, err);
    }
    return true;
  }

  private async lastReserved(subnet: Prefix): Promise<bigint | undefined> {
    try {
      const text = await readFile(join(this.dir, lastReservedFile(subnet.family)), 'utf8');
      const a = parseAddress(text.trim());
      return a && prefixContainsAddress(subnet, a) ? a.addr : undefined;
    } catch {
      return undefined; // only a hint: start from the beginning
    }
  }

  /** Replaces the hint atomically (write + rename), so readers never see half of it. */
  private async writeLastReserved(address: Address): Promise<void> {
    const path = join(this.dir, lastReservedFile(address.family));
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(tmp, formatAddress(address));
      await rename(tmp, path);
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
      // Only a hint: losing it restarts the round-robin, which is harmless.
    }
  }

  private async releaseAddress(address: Address): Promise<void> {
    const path = join(this.dir, formatAddress(address));
    try {
      await unlink(path);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw storeFailure(`cannot remove ${path}`, err);
    }
  }

  /** Releases every address `owner` holds; returns them. Releasing nothing is not an error. */
  async release(owner: Owner): Promise<Address[]> {
    const mine = await this.owned(owner);
    for (const a of mine) await this.releaseAddress(a);
    return mine;
  }
}
