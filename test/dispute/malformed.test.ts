/**
 * A prover-committed chunk that is malformed — a non-finite value, a value outside an
 * operation's domain, or a chunk of the wrong length — proves fraud by itself
 * (PROTOCOL §7.3), and the TypeScript judge predicts it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { T } from "../../protocol/evaluator/layout.js";
import { buildOpenings, judgeContext, stepTree, type DisputeData } from "../../protocol/dispute/proofs.js";
import { judgeClaim } from "../../protocol/evaluator/judge.js";
import { chunkReader } from "../../protocol/dispute/proofs.js";
import type { EncodedTensor } from "../../protocol/dispute/tensors.js";
import { tinyData, tolerances, withStep } from "./fixture.js";
import { deployGame, setupJob, solvency, type Deployed } from "./chain.js";

const POS = 2;
const LAYER = 1;

function withStepValue(data: DisputeData, tensor: number, index: number, value: number): DisputeData {
  const tensors = new Map(data.step!.tensors);
  const t = tensors.get(tensor)!;
  const copy = t.data.slice() as Float32Array;
  copy[index] = value;
  tensors.set(tensor, { ...t, data: copy } as EncodedTensor);
  const step = { ...data.step!, tensors };
  return { ...data, step, stepTree: stepTree(step) };
}

describe("malformed prover commitments prove fraud", () => {
  let d: Deployed;
  let honest: DisputeData;
  let job = 500n;
  beforeAll(async () => {
    d = await deployGame();
    honest = withStep(tinyData({ tokens: 5, seed: 9 }), POS, LAYER);
  });

  async function prove(data: DisputeData, claim: { tensor: number; row: number; col: number }, openings = buildOpenings(judgeContext(data, POS, LAYER, tolerances()[0]!), data, claim)) {
    const jobId = job++;
    await setupJob(d, data, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POS, LAYER], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([jobId, POS, LAYER, d.challenger.account.address])) as Hex;
    await d.game.write.postStepRoot([id, data.stepTree!.root], { account: d.prover.account });
    const hash = await d.game.write.proveFraud([id, { tensor: BigInt(claim.tensor), row: BigInt(claim.row), col: BigInt(claim.col) }, openings], { account: d.challenger.account });
    const receipt = await d.publicClient.waitForTransactionReceipt({ hash });
    const events = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "MalformedCommitmentProven", fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber });
    return { phase: (await d.game.read.getDispute([id])).phase, malformed: events.length };
  }

  it("NaN in a step value read by a sum", async () => {
    const bad = withStepValue(honest, T.D_PART, 3 * honest.step!.tensors.get(T.D_PART)!.rowLength, NaN);
    const claim = { tensor: T.Y_D, row: 0, col: 3 };
    expect(judgeClaim(judgeContext(bad, POS, LAYER, tolerances()[5]!), claim, chunkReader(bad)).malformed).toBeDefined();
    expect(await prove(bad, claim)).toEqual({ phase: 5, malformed: 1 });
  });

  it("a negative normalizer Z (outside the attention sum's domain)", async () => {
    const bad = withStepValue(honest, T.Z, 1, -2);
    const claim = { tensor: T.O, row: 0, col: honest.step!.dims.hd + 1 };
    expect(await prove(bad, claim)).toEqual({ phase: 5, malformed: 1 });
  });

  it("a softmax shift far below the scores (exp argument > 32)", async () => {
    const bad = withStepValue(honest, T.M, 0, -1000);
    expect(await prove(bad, { tensor: T.E, row: 0, col: 0 })).toEqual({ phase: 5, malformed: 1 });
  });

  it("a step chunk of the wrong length", async () => {
    // The prover commits X1's chunk 0 one element short; the claim on X1 opens exactly that leaf.
    const t = honest.step!.tensors.get(T.X1)!;
    const C = honest.encoding.chunkSize;
    const { chunkLeaf, STEP_DOMAIN, CommitmentTree } = await import("../../protocol/commitments/index.js");
    const shortBytes = new Uint8Array((t.data as Float32Array).slice(0, C - 1).buffer);
    // Rebuild the step tree with that one leaf replaced.
    const leaves: Hex[] = [];
    const locs: string[] = [];
    for (const id of [...honest.step!.tensors.keys()].sort((a, b) => a - b)) {
      const tt = honest.step!.tensors.get(id)!;
      for (let r = 0; r < tt.rows; r++)
        for (let c = 0; c < Math.ceil(tt.rowLength / C); c++) {
          const bytes = id === T.X1 && r === 0 && c === 0 ? shortBytes : new Uint8Array((tt.data as Float32Array).slice(r * tt.rowLength + c * C, r * tt.rowLength + Math.min((c + 1) * C, tt.rowLength)).buffer);
          leaves.push(chunkLeaf({ domain: STEP_DOMAIN, tensorId: id, row: r, chunkIndex: c }, bytes));
          locs.push(`${id}:${r}:${c}`);
        }
    }
    const tree = new CommitmentTree(leaves);
    const data: DisputeData = { ...honest, stepTree: { root: tree.root, proof: (a: number, b: number, c: number) => tree.proof(locs.indexOf(`${a}:${b}:${c}`)) } as never };
    const claim = { tensor: T.X1, row: 0, col: 1 };
    const openings = buildOpenings(judgeContext(honest, POS, LAYER, tolerances()[14]!), data, claim);
    openings[0] = { chunk: `0x${Buffer.from(shortBytes).toString("hex")}`, proof: openings[0]!.proof };
    expect(await prove(data, claim, openings)).toEqual({ phase: 5, malformed: 1 });
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
  });
});
