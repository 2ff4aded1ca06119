import { hexToBytes, type Hex } from "viem";
import { createKeccak256 } from "./keccak-wasm.js";

/**
 * The PROTOCOL §3.2 leaf computed on bytes with a reused preimage buffer. Same value as
 * protocol/commitments chunkLeaf (a test checks it) without hex round trips, because a prover
 * hashes (L+1)·ceil(d/C) leaves per token and the weights root hashes every weight chunk.
 */
export class LeafHasher {
  readonly #preimage = new Uint8Array(160);
  readonly #view = new DataView(this.#preimage.buffer);
  readonly #keccak = createKeccak256();

  constructor(domain: Hex) {
    this.#preimage.set(hexToBytes(domain), 0);
  }

  /** Leaf bytes for a chunk. tensorId, row and chunkIndex must be < 2^53. */
  leaf(tensorId: number, row: number, chunkIndex: number, chunkBytes: Uint8Array): Uint8Array {
    return this.leafFromHash(tensorId, row, chunkIndex, this.#keccak(chunkBytes));
  }

  leafFromHash(tensorId: number, row: number, chunkIndex: number, chunkHash: Uint8Array): Uint8Array {
    this.#word(32, tensorId);
    this.#word(64, row);
    this.#word(96, chunkIndex);
    this.#preimage.set(chunkHash, 128);
    return this.#keccak(this.#keccak(this.#preimage));
  }

  #word(offset: number, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`leaf field ${value} is not a safe uint`);
    // Big-endian uint256: 24 zero bytes, then the value as two 32-bit words (no BigInt).
    this.#preimage.fill(0, offset, offset + 24);
    this.#view.setUint32(offset + 24, Math.floor(value / 0x100000000));
    this.#view.setUint32(offset + 28, value >>> 0);
  }
}

export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}
