/**
 * The endpoints registered on this node, persisted to a JSON file so that a restarted
 * shim knows them again (the kernel's endpoint map holds ifindex → identity, not the
 * pod's name). Writes are atomic (write to a temporary file, then rename).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ShimError } from '../errors.js';
import type { LocalEndpoint } from './endpoint.js';

/** The registry of local endpoints, keyed by container id. */
export class EndpointRegistry {
  private readonly byId = new Map<string, LocalEndpoint>();

  /** Opens (or creates) the registry stored at `path`; without a path it is in memory only. */
  constructor(private readonly path?: string) {
    if (!path) return;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return; // first start
    }
    try {
      const list = JSON.parse(text) as LocalEndpoint[];
      for (const e of list) this.byId.set(e.containerId, e);
    } catch (e) {
      throw new ShimError('SOURCE', `endpoint registry ${path} is not valid JSON`, { cause: e });
    }
  }

  /** Every endpoint, in container id order. */
  list(): LocalEndpoint[] {
    return [...this.byId.values()].sort((a, b) => (a.containerId < b.containerId ? -1 : 1));
  }

  get(containerId: string): LocalEndpoint | undefined {
    return this.byId.get(containerId);
  }

  /** The endpoint attached to a host device, if any. */
  byIfIndex(ifindex: number): LocalEndpoint | undefined {
    for (const e of this.byId.values()) if (e.hostIfIndex === ifindex) return e;
    return undefined;
  }

  /** Adds or replaces an endpoint. */
  put(e: LocalEndpoint): void {
    this.byId.set(e.containerId, e);
    this.save();
  }

  /** Removes an endpoint; returns it if it existed. */
  remove(containerId: string): LocalEndpoint | undefined {
    const e = this.byId.get(containerId);
    if (e) {
      this.byId.delete(containerId);
      this.save();
    }
    return e;
  }

  private save(): void {
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.list(), null, 1));
    renameSync(tmp, this.path);
  }
}
