import { hexToBytes, type Hex } from "viem";
import { KeccakWasm, WASM_SCRATCH } from "./keccak-wasm.js";

/**
 * The PROTOCOL §3.2 leaf computed on bytes with a reused preimage buffer. Same value as
 * protocol/commitments chunkLeaf (a test checks it) without hex round trips, because a prover
 * hashes (L+1)·ceil(d/C) leaves per token and the weights root hashes every weight chunk.
 */
export class LeafHasher {
  readonly #k = new KeccakWasm();
  readonly #domain: Uint8Array;

  constructor(domain: Hex) {
    this.#domain = hexToBytes(domain);
  }

  /** Leaf bytes for a chunk. tensorId, row and chunkIndex must be < 2^53. */
  leaf(tensorId: number, row: number, chunkIndex: number, chunkBytes: Uint8Array): Uint8Array {
    // Chunk hash first (digest lands in state bytes 0..32), then the preimage around it.
    this.#k.ensure(CHUNK + chunkBytes.byteLength + 136).set(chunkBytes, CHUNK);
    this.#k.hashInPlace(CHUNK, chunkBytes.byteLength);
    return this.#finish(tensorId, row, chunkIndex);
  }

  /**
   * Leaves of `rows` rows of `rowBytes` bytes at `data`, each chunked at `chunkBytes`, for
   * tensor `tensorId` from row `firstRow` on, in (row, chunk) order, 32 bytes each: the loop runs
   * inside wasm (one call instead of five per leaf). A view into wasm memory, valid until the
   * next call on this hasher.
   */
  leaves(tensorId: number, firstRow: number, data: Uint8Array, rows: number, rowBytes: number, chunkBytes: number): Uint8Array {
    return this.#k.leaves(this.#domain, tensorId, firstRow, data, rows, rowBytes, chunkBytes);
  }

  leafFromHash(tensorId: number, row: number, chunkIndex: number, chunkHash: Uint8Array): Uint8Array {
    this.#k.mem.set(chunkHash, 0);
    return this.#finish(tensorId, row, chunkIndex);
  }

  /** keccak256(keccak256(abi.encode(domain, tensorId, row, chunkIndex, <digest in mem[0,32)>))). */
  #finish(tensorId: number, row: number, chunkIndex: number): Uint8Array {
    const mem = this.#k.mem;
    mem.copyWithin(PRE + 128, 0, 32);
    mem.set(this.#domain, PRE);
    word(mem, PRE + 32, tensorId);
    word(mem, PRE + 64, row);
    word(mem, PRE + 96, chunkIndex);
    this.#k.hashInPlace(PRE, 160);
    this.#k.mem.copyWithin(PRE, 0, 32);
    this.#k.hashInPlace(PRE, 32);
    return this.#k.mem.slice(0, 32);
  }
}

/** Preimage region (160 bytes + padding) and chunk region inside the wasm memory. */
const PRE = WASM_SCRATCH;
const CHUNK = WASM_SCRATCH + 512;

function word(mem: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`leaf field ${value} is not a safe uint`);
  // Big-endian uint256: 24 zero bytes, then the value as 8 big-endian bytes (no BigInt).
  mem.fill(0, offset, offset + 24);
  let hi = Math.floor(value / 0x100000000);
  let lo = value >>> 0;
  for (let i = 7; i >= 4; i--) {
    mem[offset + 24 + i] = lo & 0xff;
    lo >>>= 8;
  }
  for (let i = 3; i >= 0; i--) {
    mem[offset + 24 + i] = hi & 0xff;
    hi >>>= 8;
  }
}

export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}
