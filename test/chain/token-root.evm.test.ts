import { network } from "hardhat";
import type { Hex } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { encodePromptTokens } from "../../protocol/chain/actions/publishPrompt.js";
import { chunkLeaf, tokenLeaf, tokenLeafProof, tokenRoot, tokenTree, TOKEN_TENSOR, TRACE_DOMAIN, verifyTokenLeaf } from "../../protocol/commitments/index.js";
import { tokenBytes } from "../../runtime/trace/layout.js";

/** Fixed-seed xorshift32, so a failure reproduces. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

// Requires `npx hardhat build` (the harness artifact). TypeScript vs EVM, PROTOCOL §3.3–§3.4.
describe("token roots: protocol/commitments/token-root.ts equals contracts/libraries/TokenRoot.sol", () => {
  type Read = (args: readonly unknown[]) => Promise<unknown>;
  let harness: { read: { root: Read; leaf: Read; verify: Read } };

  beforeAll(async () => {
    const { viem } = await network.create();
    harness = (await viem.deployContract("TokenRootHarness")) as unknown as typeof harness;
  });

  it("agrees on random runs of 1..300 tokens at random first positions (odd counts included)", async () => {
    const next = rng(0x5eed);
    const lengths = [1, 2, 3, 5, 13, 255, 256, 257, 299, 300];
    for (let i = 0; i < 40; i++) lengths.push(1 + (next() % 300));
    expect(lengths.some((n) => n % 2 === 1)).toBe(true);
    for (const n of lengths) {
      const ids = Array.from({ length: n }, () => (next() % 7 === 0 ? next() : next() % 300));
      const first = next() % 3 === 0 ? 0 : next() % 100_000;
      const ts = tokenRoot(ids, first);
      expect(await harness.read.root([encodePromptTokens(ids), BigInt(first)]), `n=${n} first=${first}`).toBe(ts);
    }
  });

  it("leaves are the trace's token leaves, and TS proofs verify in the EVM", async () => {
    const ids = [256, 72, 105, 0, 0xffffffff, 7, 9];
    const first = 3;
    for (let t = first; t < first + ids.length; t++) {
      const id = ids[t - first]!;
      const leaf = tokenLeaf(t, id);
      expect(leaf).toBe(chunkLeaf({ domain: TRACE_DOMAIN, tensorId: TOKEN_TENSOR, row: t, chunkIndex: 0 }, tokenBytes(id)));
      expect(await harness.read.leaf([BigInt(t), id])).toBe(leaf);
    }
    const root = tokenRoot(ids, first);
    const tree = tokenTree(ids, first);
    for (let t = first; t < first + ids.length; t++) {
      const p = tokenLeafProof(ids, first, t, tree);
      expect(verifyTokenLeaf(root, t, p.id, p.proof)).toBe(true);
      expect(await harness.read.verify([root, BigInt(t), p.id, p.proof])).toBe(true);
    }
    // Same id at another position, or another id at the same position: rejected on both sides.
    const p = tokenLeafProof(ids, first, 5);
    expect(verifyTokenLeaf(root, 6, p.id, p.proof)).toBe(false);
    expect(verifyTokenLeaf(root, 5, p.id + 1, p.proof)).toBe(false);
    await expect(harness.read.verify([root, 6n, p.id, p.proof])).rejects.toThrow(/InvalidTokenProof/);
  });

  it("the position is bound: the same ids at another first position have another root", () => {
    const ids = [1, 2, 3];
    expect(tokenRoot(ids, 0)).not.toBe(tokenRoot(ids, 1));
    expect(tokenRoot([5], 4)).toBe(tokenLeaf(4, 5) as Hex);
  });

  it("rejects empty runs, misaligned bytes and out-of-range ids", async () => {
    expect(() => tokenRoot([], 0)).toThrow(RangeError);
    expect(() => tokenRoot([2 ** 32], 0)).toThrow(RangeError);
    expect(() => tokenRoot([-1], 0)).toThrow(RangeError);
    await expect(harness.read.root(["0x", 0n])).rejects.toThrow(/InvalidTokenBytes/);
    await expect(harness.read.root(["0x010203", 0n])).rejects.toThrow(/InvalidTokenBytes/);
  });
});
