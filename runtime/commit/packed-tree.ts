import type { Hex } from "viem";
import { toHex } from "./fast-leaf.js";
import { hashPair } from "./fast-tree.js";

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
    let level = leaves;
    for (let n = level.byteLength / 32; n > 1; n = level.byteLength / 32) {
      const m = Math.ceil(n / 2);
      const next = new Uint8Array(m * 32);
      for (let i = 0; i + 1 < n; i += 2) next.set(hashPair(level.subarray(32 * i, 32 * i + 32), level.subarray(32 * i + 32, 32 * i + 64)), 16 * i);
      if (n % 2 === 1) next.set(level.subarray(32 * (n - 1), 32 * n), 32 * (m - 1));
      this.#levels.push(next);
      level = next;
    }
  }

  get leafCount(): number {
    return this.#levels[0]!.byteLength / 32;
  }

  leaf(index: number): Hex {
    if (!Number.isInteger(index) || index < 0 || index >= this.leafCount) throw new RangeError(`no leaf at index ${index}`);
    return toHex(this.#levels[0]!.subarray(32 * index, 32 * index + 32));
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
