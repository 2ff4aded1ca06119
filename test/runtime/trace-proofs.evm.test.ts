import { network } from "hardhat";
import { MerkleTree } from "merkletreejs";
import { bytesToHex, keccak256, toBytes, type Hex } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { chunkLeaf, CommitmentTree, TOKEN_TENSOR, TRACE_DOMAIN, verifyProof } from "../../protocol/commitments/index.js";
import { generate } from "../../runtime/generate.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";
import { buildMultiProof, MultiProofUnsupportedError, processMultiProof } from "../../runtime/trace/multiproof.js";
import { modelDir } from "./helpers.js";

// Requires `npx hardhat build` (the harness artifact); PROTOCOL §3.2–§3.4 proofs checked in EDR.
describe("trace proofs verify with OpenZeppelin MerkleProof in the EVM", () => {
  let trace: TraceCommitment;
  let harness: Awaited<ReturnType<typeof deploy>>;
  const deploy = async () => {
    const { viem } = await network.create();
    return viem.deployContract("TraceProofHarness");
  };

  beforeAll(async () => {
    const r = await generate({ modelDir: await modelDir(), promptTokens: [256, 10, 20, 30], maxNewTokens: 5, samplingParams: 0n, trace: true, stopAtEos: false });
    trace = r.trace!;
    harness = await deploy();
  });

  it("accepts a hidden-state chunk and a token leaf, and the runtime leaf equals the shared one", async () => {
    const p = trace.hiddenProof(5, 3, 1);
    expect(p.leaf).toBe(chunkLeaf({ domain: TRACE_DOMAIN, tensorId: 3, row: 5, chunkIndex: 1 }, toBytes(p.chunk)));
    expect(await harness.read.verifyChunk([trace.root, TRACE_DOMAIN, 3n, 5n, 1n, p.chunk, p.proof])).toBe(true);
    const tok = trace.tokenProof(8);
    expect(tok.tensorId).toBe(TOKEN_TENSOR);
    expect(await harness.read.leafOf([TRACE_DOMAIN, BigInt(TOKEN_TENSOR), 8n, 0n, tok.chunk])).toBe(tok.leaf);
    expect(await harness.read.verifyChunk([trace.root, TRACE_DOMAIN, BigInt(TOKEN_TENSOR), 8n, 0n, tok.chunk, tok.proof])).toBe(true);
  });

  it("rejects a tampered chunk, a wrong position and a wrong layer", async () => {
    const p = trace.hiddenProof(2, 4, 0);
    const bytes = toBytes(p.chunk);
    bytes[7]! ^= 0x01; // one bit of one element
    await expect(harness.read.verifyChunk([trace.root, TRACE_DOMAIN, 4n, 2n, 0n, bytesToHex(bytes), p.proof])).rejects.toThrow(/InvalidChunkProof/);
    await expect(harness.read.verifyChunk([trace.root, TRACE_DOMAIN, 4n, 3n, 0n, p.chunk, p.proof])).rejects.toThrow(/InvalidChunkProof/);
    await expect(harness.read.verifyChunk([trace.root, TRACE_DOMAIN, 3n, 2n, 0n, p.chunk, p.proof])).rejects.toThrow(/InvalidChunkProof/);
  });

  it("accepts runtime multiproofs with multiProofVerify and rejects a tampered leaf", async () => {
    const n = trace.leaves.length;
    // Sets whose breadth-first order has no leaf above an internal node (PROTOCOL §3.3).
    const sets = [[0, 1, 2], [3, 40, 41, 77], [trace.layout.hiddenLeafIndex(1, 0, 0, trace.tokens.length), trace.layout.hiddenLeafIndex(1, 4, 1, trace.tokens.length)]];
    for (const set of sets) {
      const m = trace.multiProof(set);
      expect(processMultiProof(m)).toBe(trace.root);
      expect(await harness.read.multiProofVerify([m.proof, m.proofFlags, trace.root, m.leaves])).toBe(true);
      const bad = [...m.leaves];
      bad[0] = keccak256(bad[0]!);
      expect(await harness.read.multiProofVerify([m.proof, m.proofFlags, trace.root, bad])).toBe(false);
    }
    expect(n).toBeGreaterThan(64);
  });

  it("documents the odd-promotion restriction: unsupported sets are refused, merkletreejs multiproofs do not fit", async () => {
    // 13 leaves: leaf 12 is promoted to depth 1 while leaf 0 sits at depth 4.
    const leaves = Array.from({ length: 13 }, (_, i) => keccak256(toBytes(`leaf ${i}`)));
    const root = new CommitmentTree(leaves).root;
    expect(() => buildMultiProof(leaves, [0, 12])).toThrow(MultiProofUnsupportedError);
    let supported = 0;
    for (let a = 0; a < 13; a++) {
      for (let b = a + 1; b < 13; b++) {
        let m;
        try {
          m = buildMultiProof(leaves, [a, b]);
        } catch (err) {
          expect(err).toBeInstanceOf(MultiProofUnsupportedError);
          // Each leaf still has its ordinary proof.
          expect(verifyProof(leaves[a]!, new CommitmentTree(leaves).proof(a), root)).toBe(true);
          continue;
        }
        supported++;
        expect(await harness.read.multiProofVerify([m.proof, m.proofFlags, root, m.leaves])).toBe(true);
      }
    }
    expect(supported).toBeGreaterThan(50);
    // merkletreejs' own multiproofs (built for complete trees) fail for our layout.
    const mt = new MerkleTree(leaves.map((l) => Buffer.from(toBytes(l))), (d: Buffer) => Buffer.from(keccak256(d, "bytes")), { sortPairs: true });
    const proof = mt.getMultiProof([2, 5]).map((p: Buffer) => bytesToHex(p) as Hex);
    const flags = mt.getProofFlags([2, 5].map((i) => mt.getLeaf(i)), mt.getMultiProof([2, 5]));
    const ok = await harness.read.multiProofVerify([proof, flags, root, [leaves[2]!, leaves[5]!]]).catch(() => false);
    expect(ok).toBe(false);
  });
});
