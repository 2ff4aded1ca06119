import { TOKEN_TENSOR, TRACE_DOMAIN } from "../../protocol/commitments/index.js";
import { dtypeSize, type Dtype } from "../../protocol/encoding/index.js";
import { LeafHasher } from "../commit/fast-leaf.js";
import { sharedHashPool, type HashPool } from "../commit/hash-pool.js";
import type { HiddenData } from "../forward.js";
import { TraceCommitment, type HiddenRowSource } from "./commitment.js";
import { TraceLayout, tokenBytes } from "./layout.js";

/** Receives rows as they are produced (the disk store appends them, PROTOCOL §4.5). */
export interface TraceSink {
  appendRows(layer: number, firstPosition: number, data: HiddenData, rows: number): void | Promise<void>;
}

/**
 * Captures h[t][l] while generating and hashes each row's chunks into leaves right away, so
 * the root is ready as soon as the last token is sampled (PROTOCOL §3.4).
 */
export class TraceBuilder implements HiddenRowSource {
  readonly layout: TraceLayout;
  readonly #hasher = new LeafHasher(TRACE_DOMAIN);
  /** rows[t][l]: views into the runtime's output buffers (no copy). */
  readonly #rows: HiddenData[][] = [];
  /** leaves[t]: (L+1)·K leaves of position t, in (l, chunk) order, 32 bytes each. */
  readonly #leaves: Uint8Array[] = [];
  /** filled[t]: how many of position t's leaves are set (completeness check). */
  readonly #filled: number[] = [];
  /** Outstanding worker hashing (the "worker" mode: a hash-pool thread hashes while this one generates). */
  readonly #pending: Promise<void>[] = [];
  readonly #pool: HashPool | undefined;

  constructor(
    layers: number,
    hidden: number,
    chunkSize: number,
    dtype: Dtype,
    readonly sink?: TraceSink,
    /**
     * "inline" (default): hash on the caller's thread; "worker": on a worker thread, which
     * pays off only with a spare core (on 2 shared cores it slowed generation, bench:trace).
     */
    hashing: "worker" | "inline" = "inline",
  ) {
    this.layout = new TraceLayout(layers, hidden, chunkSize, dtype);
    this.#pool = hashing === "worker" ? sharedHashPool() : undefined;
  }

  /** Rows of boundary `layer` for positions firstPosition.. (row-major [rows, hidden]). */
  /** Returns a promise only when the sink is asynchronous (no event-loop turn otherwise). */
  addRows(layer: number, firstPosition: number, data: HiddenData, rows: number): void | Promise<void> {
    const { hidden, chunksPerRow, chunkSize } = this.layout;
    if (data.length !== rows * hidden) throw new RangeError(`expected ${rows}×${hidden} elements, got ${data.length}`);
    if ((data instanceof Uint16Array ? 2 : 4) !== dtypeSize(this.layout.dtype)) throw new TypeError("row dtype does not match the trace dtype");
    const size = dtypeSize(this.layout.dtype);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let r = 0; r < rows; r++) {
      const t = firstPosition + r;
      (this.#rows[t] ??= [])[layer] = data.subarray(r * hidden, (r + 1) * hidden);
      if (!this.#leaves[t]) {
        this.#leaves[t] = new Uint8Array(this.layout.leavesPerPosition * 32);
        this.#filled[t] = 0;
      }
    }
    const put = (t: number, c: number, leaf: Uint8Array) => {
      this.#leaves[t]!.set(leaf, 32 * (layer * chunksPerRow + c));
      this.#filled[t]! += 1;
    };
    if (this.#pool) {
      const job = this.#pool.leaves({ domain: TRACE_DOMAIN, tensorId: layer, firstRow: firstPosition, rows, rowBytes: hidden * size, chunkBytes: chunkSize * size, data: bytes });
      this.#pending.push(
        job.then((leaves) => {
          for (let i = 0; i < rows * chunksPerRow; i++) put(firstPosition + Math.floor(i / chunksPerRow), i % chunksPerRow, leaves.subarray(32 * i, 32 * i + 32));
        }),
      );
    } else {
      const leaves = this.#hasher.leaves(layer, firstPosition, bytes, rows, hidden * size, chunkSize * size);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < chunksPerRow; c++) {
          const i = r * chunksPerRow + c;
          put(firstPosition + r, c, leaves.subarray(32 * i, 32 * i + 32));
        }
      }
    }
    return this.sink?.appendRows(layer, firstPosition, data, rows);
  }

  row(t: number, layer: number): HiddenData {
    const r = this.#rows[t]?.[layer];
    if (!r) throw new RangeError(`no hidden state captured for t=${t}, l=${layer}`);
    return r;
  }

  /** Close the trace over all N tokens (prompt + output); positions 0..N-2 must be complete. */
  async finish(tokens: readonly number[]): Promise<TraceCommitment> {
    await Promise.all(this.#pending);
    const n = tokens.length;
    if (n < 2) throw new RangeError("a trace needs at least two tokens");
    const per = this.layout.leavesPerPosition * 32;
    const packed = new Uint8Array(this.layout.leafCount(n) * 32);
    tokens.forEach((tok, t) => packed.set(this.#hasher.leaf(TOKEN_TENSOR, t, 0, tokenBytes(tok)), 32 * t));
    for (let t = 0; t < n - 1; t++) {
      // A row written twice would also count twice; rows are written once per (t, l) by generate.
      if (this.#filled[t] !== this.layout.leavesPerPosition) throw new RangeError(`hidden states of position ${t} are incomplete`);
      packed.set(this.#leaves[t]!, 32 * n + per * t);
    }
    return new TraceCommitment(this.layout, tokens, packed, this);
  }
}
