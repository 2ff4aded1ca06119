import { keccak256 } from "viem";
import { describe, expect, it } from "vitest";
import { CommitmentTree } from "../../protocol/commitments/index.js";
import { merkleRoot } from "../../runtime/commit/fast-tree.js";
import { toHex } from "../../runtime/commit/fast-leaf.js";
import { HashPool } from "../../runtime/commit/hash-pool.js";
import { LeafHasher } from "../../runtime/commit/fast-leaf.js";
import { createKeccak256 } from "../../runtime/commit/keccak-wasm.js";
import { chunkLeaf, TRACE_DOMAIN } from "../../protocol/commitments/index.js";

describe("wasm keccak256 and fast commitments", () => {
  it("equals viem's keccak256 for lengths around every block boundary and random content", () => {
    const k = createKeccak256();
    let seed = 99;
    for (const n of [0, 1, 31, 32, 33, 64, 135, 136, 137, 160, 271, 272, 273, 512, 4096, 70_000]) {
      const data = new Uint8Array(n).map(() => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
      expect(toHex(k(data)), `length ${n}`).toBe(keccak256(data));
    }
  });

  it("computes the same root as CommitmentTree (merkletreejs) for odd and even leaf counts", () => {
    for (const n of [1, 2, 3, 5, 8, 13, 100]) {
      const leaves = Array.from({ length: n }, (_, i) => keccak256(new Uint8Array([i, n])));
      expect(merkleRoot(leaves)).toBe(new CommitmentTree(leaves).root);
    }
  });

  it("hashes the same leaves on worker threads as chunkLeaf does", async () => {
    const pool = new HashPool(1);
    const data = new Uint8Array(3 * 100).map((_, i) => i * 7);
    const leaves = await pool.leaves({ domain: TRACE_DOMAIN, tensorId: 4, firstRow: 10, rows: 3, rowBytes: 100, chunkBytes: 64, data });
    await pool.close();
    expect(leaves.byteLength).toBe(3 * 2 * 32);
    const hasher = new LeafHasher(TRACE_DOMAIN);
    for (let r = 0; r < 3; r++) {
      for (const [c, start, end] of [[0, 0, 64], [1, 64, 100]] as const) {
        const chunk = data.subarray(r * 100 + start, r * 100 + end);
        const expected = chunkLeaf({ domain: TRACE_DOMAIN, tensorId: 4, row: 10 + r, chunkIndex: c }, chunk);
        expect(toHex(leaves.subarray((2 * r + c) * 32, (2 * r + c + 1) * 32))).toBe(expected);
        expect(toHex(hasher.leaf(4, 10 + r, c, chunk))).toBe(expected);
      }
    }
  });
});
