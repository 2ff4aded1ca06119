import { hexToBytes, type Hex } from "viem";
import { toHex } from "./fast-leaf.js";
import { createKeccak256, KeccakWasm } from "./keccak-wasm.js";

const keccak = createKeccak256();
const pair = new Uint8Array(64);

/** keccak256 of the sorted pair (PROTOCOL §3.3 inner node). */
export function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [x, y] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a];
  pair.set(x, 0);
  pair.set(y, 32);
  return keccak(pair);
}

const levels = new KeccakWasm();

/**
 * The level above `level` (packed 32-byte nodes) in the PROTOCOL §3.3 tree: sorted-pair hashes,
 * an odd last node promoted. One call into wasm per level, where a JavaScript loop over
 * hashPair cost as much again as the hashing (one copy and one array per node).
 */
export function nextLevel(level: Uint8Array): Uint8Array {
  return levels.pairs(level);
}

/**
 * Root of the PROTOCOL §3.3 tree (sorted pairs, odd node promoted) without building
 * merkletreejs' structure: the prover needs the root the moment generation ends, proofs only
 * later. Tests check it equals protocol/commitments CommitmentTree's root.
 */
export function merkleRoot(leaves: readonly (Hex | Uint8Array)[]): Hex {
  if (leaves.length === 0) throw new RangeError("a commitment tree needs at least one leaf");
  return merkleRootPacked(leaves.map((l) => (typeof l === "string" ? hexToBytes(l) : l)));
}

/** merkleRoot over leaves packed as consecutive 32-byte words (no per-leaf objects: 10^7+ leaves). */
export function merkleRootPacked(blocks: readonly Uint8Array[]): Hex {
  const total = blocks.reduce((s, b) => s + b.byteLength, 0);
  if (total === 0 || total % 32 !== 0) throw new RangeError(`packed leaves must be a positive multiple of 32 bytes, got ${total}`);
  let level = blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
  while (level.byteLength > 32) level = nextLevel(level);
  return toHex(level.subarray(0, 32));
}
