import { closeSync, openSync, readSync } from "node:fs";
import { PackedMerkleTree } from "../commit/packed-tree.js";

/**
 * The inner levels of a PROTOCOL §3.3 tree (sorted pairs, an odd last node promoted), stored
 * next to the leaves so that a proof costs one 32-byte read per level instead of re-reading and
 * re-hashing every leaf of the job (issue #15: a trace request used to cost the whole tree).
 *
 * Layout of the file: level 1, then level 2, … up to the root's level, each level's nodes as
 * consecutive 32-byte words; level 0 (the leaves) is the leaves file itself.
 */

/** Node counts of every level, leaves first, root last (n, ⌈n/2⌉, …, 1). */
export function levelSizes(leafCount: number): number[] {
  if (!Number.isInteger(leafCount) || leafCount < 1) throw new RangeError(`a tree needs at least one leaf, got ${leafCount}`);
  const sizes = [leafCount];
  while (sizes[sizes.length - 1]! > 1) sizes.push(Math.ceil(sizes[sizes.length - 1]! / 2));
  return sizes;
}

/** The inner levels (1..top) of the tree over packed 32-byte leaves, as the file stores them. */
export function innerLevels(packedLeaves: Uint8Array): Uint8Array {
  return new PackedMerkleTree(packedLeaves).inner();
}

/**
 * Proofs read from a leaves file and its inner-levels file with positioned reads: a proof is
 * one read per level (≈ log2 of the leaf count), whatever the size of the trace.
 */
export class TreeFileReader {
  readonly #sizes: number[];
  /** Byte offset of each level in its file (level 0 in the leaves file, the rest in the tree file). */
  readonly #offsets: number[];
  #leavesFd: number | undefined;
  #treeFd: number | undefined;

  constructor(
    readonly leavesFile: string,
    readonly treeFile: string,
    readonly leafCount: number,
  ) {
    this.#sizes = levelSizes(leafCount);
    this.#offsets = [0];
    let o = 0;
    for (let k = 1; k < this.#sizes.length; k++) {
      this.#offsets.push(o);
      o += 32 * this.#sizes[k]!;
    }
  }

  /** Bottom-up sibling path of leaf `index`, as `MerkleProof.verify` expects. */
  proof(index: number): Uint8Array[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.leafCount) throw new RangeError(`no leaf at index ${index}`);
    const path: Uint8Array[] = [];
    let i = index;
    for (let k = 0; k < this.#sizes.length - 1; k++) {
      const sibling = i ^ 1;
      // The odd last node of a level has no sibling: it is promoted unchanged.
      if (sibling < this.#sizes[k]!) path.push(this.#node(k, sibling));
      i >>= 1;
    }
    return path;
  }

  /** Leaf `index` (32 bytes). */
  leaf(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.leafCount) throw new RangeError(`no leaf at index ${index}`);
    return this.#node(0, index);
  }

  /** The root as stored (the top level). */
  root(): Uint8Array {
    return this.#node(this.#sizes.length - 1, 0);
  }

  #node(level: number, i: number): Uint8Array {
    const fd = level === 0 ? (this.#leavesFd ??= openSync(this.leavesFile, "r")) : (this.#treeFd ??= openSync(this.treeFile, "r"));
    const out = new Uint8Array(32);
    const read = readSync(fd, out, 0, 32, this.#offsets[level]! + 32 * i);
    if (read !== 32) throw new RangeError(`tree node (${level}, ${i}) is missing on disk`);
    return out;
  }

  close(): void {
    if (this.#leavesFd !== undefined) closeSync(this.#leavesFd);
    if (this.#treeFd !== undefined) closeSync(this.#treeFd);
    this.#leavesFd = this.#treeFd = undefined;
  }
}
