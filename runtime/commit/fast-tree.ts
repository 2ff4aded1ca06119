import { hexToBytes, type Hex } from "viem";
import { toHex } from "./fast-leaf.js";
import { createKeccak256 } from "./keccak-wasm.js";

const keccak = createKeccak256();
const pair = new Uint8Array(64);

/** keccak256 of the sorted pair (PROTOCOL §3.3 inner node). */
export function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [x, y] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a];
  pair.set(x, 0);
  pair.set(y, 32);
  return keccak(pair);
}

/**
 * Root of the PROTOCOL §3.3 tree (sorted pairs, odd node promoted) without building
 * merkletreejs' structure: the prover needs the root the moment generation ends, proofs only
 * later. Tests check it equals protocol/commitments CommitmentTree's root.
 */
export function merkleRoot(leaves: readonly (Hex | Uint8Array)[]): Hex {
  if (leaves.length === 0) throw new RangeError("a commitment tree needs at least one leaf");
  let level = leaves.map((l) => (typeof l === "string" ? hexToBytes(l) : l));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(hashPair(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return toHex(level[0]!);
}

/** merkleRoot over leaves packed as consecutive 32-byte words (no per-leaf objects: 10^7+ leaves). */
export function merkleRootPacked(blocks: readonly Uint8Array[]): Hex {
  const total = blocks.reduce((s, b) => s + b.byteLength, 0);
  if (total === 0 || total % 32 !== 0) throw new RangeError(`packed leaves must be a positive multiple of 32 bytes, got ${total}`);
  let level = new Uint8Array(total);
  let o = 0;
  for (const b of blocks) {
    level.set(b, o);
    o += b.byteLength;
  }
  let n = total / 32;
  while (n > 1) {
    const m = Math.ceil(n / 2);
    const next = new Uint8Array(m * 32);
    for (let i = 0; i + 1 < n; i += 2) next.set(hashPair(level.subarray(32 * i, 32 * i + 32), level.subarray(32 * i + 32, 32 * i + 64)), 16 * i);
    if (n % 2 === 1) next.set(level.subarray(32 * (n - 1), 32 * n), 32 * (m - 1));
    level = next;
    n = m;
  }
  return toHex(level.subarray(0, 32));
}
