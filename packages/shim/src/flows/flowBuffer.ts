/** A bounded buffer of the most recent flow records. */

/** A ring of at most `capacity` items; the oldest go first. */
export class FlowBuffer<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private size = 0;
  /** Records ever added. */
  total = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    this.total++;
  }

  /** The newest `limit` items, oldest first. */
  recent(limit = this.capacity): T[] {
    const n = Math.min(limit, this.size);
    const out: T[] = [];
    for (let i = n; i > 0; i--) {
      const it = this.items[(this.next - i + this.capacity) % this.capacity];
      if (it !== undefined) out.push(it);
    }
    return out;
  }
}
