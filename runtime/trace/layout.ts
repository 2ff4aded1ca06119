import { TOKEN_TENSOR } from "../../protocol/commitments/index.js";
import { chunkCount, dtypeSize, type Dtype } from "../../protocol/encoding/index.js";

/**
 * Leaf layout of a job's trace tree, PROTOCOL §3.4: N token leaves first (index t), then
 * hidden-state chunks of positions t = 0..N-2 ordered by (t, l, chunk).
 */
export class TraceLayout {
  readonly chunksPerRow: number;
  readonly rowBytes: number;

  constructor(
    readonly layers: number,
    readonly hidden: number,
    readonly chunkSize: number,
    readonly dtype: Dtype,
  ) {
    this.chunksPerRow = chunkCount(hidden, chunkSize);
    this.rowBytes = hidden * dtypeSize(dtype);
  }

  /** Leaves contributed by one position's hidden states (all boundaries l = 0..L). */
  get leavesPerPosition(): number {
    return (this.layers + 1) * this.chunksPerRow;
  }

  leafCount(tokens: number): number {
    return tokens + (tokens - 1) * this.leavesPerPosition;
  }

  tokenLeafIndex(t: number, tokens: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= tokens) throw new RangeError(`token position ${t} out of range [0, ${tokens})`);
    return t;
  }

  hiddenLeafIndex(t: number, layer: number, chunk: number, tokens: number): number {
    if (!Number.isInteger(t) || t < 0 || t > tokens - 2) throw new RangeError(`hidden position ${t} out of range [0, ${tokens - 1})`);
    if (!Number.isInteger(layer) || layer < 0 || layer > this.layers) throw new RangeError(`layer ${layer} out of range [0, ${this.layers}]`);
    if (!Number.isInteger(chunk) || chunk < 0 || chunk >= this.chunksPerRow) throw new RangeError(`chunk ${chunk} out of range [0, ${this.chunksPerRow})`);
    return tokens + (t * (this.layers + 1) + layer) * this.chunksPerRow + chunk;
  }

  /** Trace tensorId of a token leaf (PROTOCOL §3.4). */
  static readonly TOKEN_TENSOR = TOKEN_TENSOR;
}

/** Token leaf bytes: uint32 little-endian. */
export function tokenBytes(token: number): Uint8Array {
  if (!Number.isInteger(token) || token < 0 || token > 0xffffffff) throw new RangeError(`token ${token} is not a uint32`);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, token, true);
  return b;
}
