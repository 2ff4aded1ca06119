import { describe, expect, it } from "vitest";
import { keccak256, toHex, type Hex } from "viem";
import { CommitmentTree } from "../../protocol/commitments/index.js";
import { PackedMerkleTree } from "../../runtime/commit/packed-tree.js";

describe("PackedMerkleTree (PROTOCOL §3.3)", () => {
  it("has CommitmentTree's root and proofs for every size from 1 to 70 leaves", () => {
    for (let n = 1; n <= 70; n++) {
      const leaves: Hex[] = Array.from({ length: n }, (_, i) => keccak256(toHex(`leaf ${n}/${i}`)));
      const packed = new Uint8Array(32 * n);
      leaves.forEach((l, i) => packed.set(Buffer.from(l.slice(2), "hex"), 32 * i));
      const fast = new PackedMerkleTree(packed);
      const reference = new CommitmentTree(leaves);
      expect(fast.root, `n = ${n}`).toBe(reference.root);
      for (let i = 0; i < n; i++) {
        expect(fast.leaf(i)).toBe(leaves[i]);
        expect(fast.proof(i), `n = ${n}, leaf ${i}`).toEqual(reference.proof(i));
      }
    }
    expect(() => new PackedMerkleTree(new Uint8Array(31))).toThrow(RangeError);
  });
});
