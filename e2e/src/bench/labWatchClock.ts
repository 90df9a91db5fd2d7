/**
 * When did a watch first show something: a list-then-watch of one resource in one namespace
 * that stamps (`performance.now()`) the first event for which `stamp(object)` gives a key.
 * The lab benchmark uses it for "the apiserver has it and a watcher got it" — the part of an
 * apply→effect time that any controller pays before doing anything.
 */
import { performance } from 'node:perf_hooks';
import type { KubeClient, KubeObject, Resource } from '@palisade/operator';
import { sleep } from './benchKit.js';

/** Options of {@link WatchClock.start}. */
export interface WatchClockOptions {
  readonly client: KubeClient;
  readonly resource: Resource;
  readonly namespace: string;
  /** The key an object's state stands for (undefined: nothing to stamp). */
  readonly stamp: (obj: KubeObject) => string | undefined;
}

/** First-seen times of watch events, by key. */
export class WatchClock {
  private readonly seenAt = new Map<string, number>();
  private readonly waiting = new Map<string, ((at: number) => void)[]>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private rv = '';

  private constructor(private readonly o: WatchClockOptions) {}

  /** Lists (stamping what is there), then watches until {@link WatchClock.stop}. */
  static async start(o: WatchClockOptions): Promise<WatchClock> {
    const w = new WatchClock(o);
    await w.relist();
    w.loop = w.run();
    return w;
  }

  /** When `key` was first seen; waits for it (rejects after `timeoutMs`). */
  seen(key: string, timeoutMs = 30_000): Promise<number> {
    const at = this.seenAt.get(key);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`watch of ${this.o.resource.plural}: ${key} not seen in time`)),
        timeoutMs,
      );
      const l = this.waiting.get(key) ?? [];
      l.push((t) => {
        clearTimeout(timer);
        resolve(t);
      });
      this.waiting.set(key, l);
    });
  }

  /** Ends the watch. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private record(obj: KubeObject, at: number): void {
    const key = this.o.stamp(obj);
    if (key === undefined || this.seenAt.has(key)) return;
    this.seenAt.set(key, at);
    for (const f of this.waiting.get(key) ?? []) f(at);
    this.waiting.delete(key);
  }

  private async relist(): Promise<void> {
    const l = await this.o.client.listAll(this.o.resource, { namespace: this.o.namespace });
    const at = performance.now();
    for (const obj of l.items) this.record(obj, at);
    this.rv = l.resourceVersion;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        await this.o.client.watch(
          this.o.resource,
          { namespace: this.o.namespace, resourceVersion: this.rv, timeoutSeconds: 600, signal },
          (e) => {
            const at = performance.now();
            const rv = e.object.metadata.resourceVersion;
            if (rv) this.rv = rv;
            if (e.type === 'ADDED' || e.type === 'MODIFIED') this.record(e.object, at);
            if (e.type === 'ERROR') throw new Error(`watch error: ${JSON.stringify(e.object)}`);
          },
        );
      } catch {
        if (signal.aborted) return;
        await sleep(100);
        await this.relist().catch(() => undefined);
      }
    }
  }
}
