/**
 * The simulation's clock: a binary min-heap of events ordered by time, then by insertion order,
 * so events at the same second run in the order they were scheduled (deterministic).
 */

type Entry<E> = { time: number; seq: number; event: E };

export class EventQueue<E> {
  private heap: Entry<E>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, event: E): void {
    const h = this.heap;
    h.push({ time, seq: this.seq++, event });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  /** The earliest event and its time, or undefined when empty. */
  pop(): { time: number; event: E } | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return { time: top.time, event: top.event };
  }
}

function before<E>(a: Entry<E>, b: Entry<E>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
