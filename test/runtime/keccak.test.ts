import { keccak256 } from "viem";
import { describe, expect, it } from "vitest";
import { CommitmentTree } from "../../protocol/commitments/index.js";
import { merkleRoot } from "../../runtime/commit/fast-tree.js";
import { toHex } from "../../runtime/commit/fast-leaf.js";
import { HashPool } from "../../runtime/commit/hash-pool.js";
import { LeafHasher } from "../../runtime/commit/fast-leaf.js";
import { createKeccak256, KeccakWasm } from "../../runtime/commit/keccak-wasm.js";
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

  it("sorts each pair inside wasm as CommitmentTree does: words equal up to their last byte, equal words, a byte above 0x7f", () => {
    const word = (last: number, first = 0x11) => toHex(new Uint8Array(32).fill(0xab).map((b, i) => (i === 0 ? first : i === 31 ? last : b)));
    const cases = [
      [word(2), word(1)], // differ only in the last byte, larger first
      [word(1), word(2)],
      [word(5), word(5)], // equal
      [word(0, 0xff), word(0, 0x01)], // unsigned comparison of the first byte
      [word(9), word(3), word(7)], // odd count: the last is promoted
    ];
    for (const leaves of cases) expect(merkleRoot(leaves), leaves.join(",")).toBe(new CommitmentTree(leaves).root);
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

  it("hashes whole rows of leaves inside wasm exactly as chunkLeaf does (chunks across block boundaries, partial last chunks, rows past 2^31)", () => {
    const hasher = new LeafHasher(TRACE_DOMAIN);
    for (const [rowBytes, chunkBytes, rows, firstRow, tensorId] of [[576, 192, 3, 0, 0], [576, 512, 2, 7, 3], [130, 136, 2, 2 ** 31 + 5, 9], [272, 136, 2, 1, 1], [1000, 300, 3, 100, 6], [7, 1, 2, 0, 2]] as const) {
      const data = new Uint8Array(rows * rowBytes).map((_, i) => (i * 131 + rowBytes) & 255);
      const leaves = hasher.leaves(tensorId, firstRow, data, rows, rowBytes, chunkBytes).slice();
      const per = Math.ceil(rowBytes / chunkBytes);
      expect(leaves.byteLength).toBe(rows * per * 32);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < per; c++) {
          const chunk = data.subarray(r * rowBytes + c * chunkBytes, r * rowBytes + Math.min((c + 1) * chunkBytes, rowBytes));
          const i = r * per + c;
          expect(toHex(leaves.subarray(32 * i, 32 * i + 32)), `${rowBytes}/${chunkBytes} row ${r} chunk ${c}`).toBe(chunkLeaf({ domain: TRACE_DOMAIN, tensorId, row: firstRow + r, chunkIndex: c }, chunk));
        }
      }
    }
  });

  it("hashes a run of noise messages inside wasm as keccak256 of each (PROTOCOL §4.4 groups)", () => {
    const k = new KeccakWasm();
    const message = new Uint8Array(96).map((_, i) => i * 3);
    const digests = k.noiseDigests(message, 5, 10).slice();
    for (let g = 0; g < 10; g++) {
      const m = message.slice();
      new DataView(m.buffer).setUint32(92, 5 + g);
      expect(toHex(digests.subarray(32 * g, 32 * g + 32))).toBe(keccak256(m));
    }
  });
});
