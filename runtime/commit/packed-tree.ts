import type { Hex } from "viem";
import { toHex } from "./fast-leaf.js";
import { nextLevel } from "./fast-tree.js";

/**
 * The PROTOCOL §3.3 tree (sorted pairs, odd node promoted) over leaves packed as 32-byte words,
 * every level kept, hashed with the wasm keccak: root and proofs for the 250k-leaf weights tree
 * of a small real model in about a second, where merkletreejs with JavaScript keccak takes a
 * minute. Same root and proofs as protocol/commitments CommitmentTree (tested).
 */
export class PackedMerkleTree {
  readonly #levels: Uint8Array[];

  constructor(leaves: Uint8Array) {
    if (leaves.byteLength === 0 || leaves.byteLength % 32 !== 0) throw new RangeError(`packed leaves must be a positive multiple of 32 bytes, got ${leaves.byteLength}`);
    this.#levels = [leaves];
    for (let level = leaves; level.byteLength > 32; ) {
      level = nextLevel(level);
      this.#levels.push(level);
    }
  }

  get leafCount(): number {
    return this.#levels[0]!.byteLength / 32;
  }

  leaf(index: number): Hex {
    if (!Number.isInteger(index) || index < 0 || index >= this.leafCount) throw new RangeError(`no leaf at index ${index}`);
    return toHex(this.#levels[0]!.subarray(32 * index, 32 * index + 32));
  }

  /** Levels 1..root concatenated (the leaves excluded): what the trace store's tree file holds. */
  inner(): Uint8Array {
    return Buffer.concat(this.#levels.slice(1));
  }

  get root(): Hex {
    return toHex(this.#levels[this.#levels.length - 1]!.subarray(0, 32));
  }

  /** Sibling path of leaf `index`, bottom-up; a promoted node has no sibling on its level. */
  proof(index: number): Hex[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.leafCount) throw new RangeError(`no leaf at index ${index}`);
    const out: Hex[] = [];
    let i = index;
    for (const level of this.#levels.slice(0, -1)) {
      const sibling = i ^ 1;
      if (sibling * 32 < level.byteLength) out.push(toHex(level.subarray(32 * sibling, 32 * sibling + 32)));
      i >>= 1;
    }
    return out;
  }
}
