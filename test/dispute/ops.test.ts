/**
 * For every operation code: a perturbation beyond tolerance at a random element is proven
 * on-chain and the prover is slashed; the same element perturbed within tolerance cannot be
 * proven (the contract reverts NoFraud and the TypeScript judge agrees beforehand).
 */
import { describe, expect, it, beforeAll } from "vitest";
import { zeroHash } from "viem";
import { Op, OP_NAMES, opOf, T, type OpCode } from "../../protocol/evaluator/layout.js";
import { buildOpenings, judgeContext, type DisputeData } from "../../protocol/dispute/proofs.js";
import { allClaims } from "../../protocol/dispute/scan.js";
import { rng } from "../../protocol/dispute/synthetic.js";
import { judgeClaim } from "../../protocol/evaluator/judge.js";
import { chunkReader } from "../../protocol/dispute/proofs.js";
import { tinyData, tolerances, withStep } from "./fixture.js";
import { perturb, q48, verdictOf } from "./perturb.js";
import { deployGame, setupJob, type Deployed } from "./chain.js";

const POSITION = 4;

describe("one-step proofs per operation", () => {
  let d: Deployed;
  let base: DisputeData;
  const steps = new Map<number, DisputeData>();
  let nextJob = 100n;

  beforeAll(async () => {
    d = await deployGame();
    base = tinyData({ tokens: 7 });
    steps.set(0, base);
    steps.set(1, withStep(base, POSITION, 1));
    steps.set(2, withStep(base, POSITION, 2));
    steps.set(base.arch.layers + 1, withStep(base, POSITION, base.arch.layers + 1));
  });

  /** Open a dispute on (POSITION, layer) of a job committing `data`, post its step root, prove `claim`. */
  async function dispute(data: DisputeData, layer: number, claim: { tensor: number; row: number; col: number }) {
    const jobId = nextJob++;
    await setupJob(d, data, tolerances(), { jobId });
    const ch = d.challenger.account;
    await d.game.write.openDispute([jobId, POSITION, layer], { account: ch });
    const id = await d.game.read.disputeIdOf([jobId, POSITION, layer, ch.address]);
    await d.game.write.postStepRoot([id, data.stepTree?.root ?? zeroHash], { account: d.prover.account });
    const tol = tolerances()[opOf(claim.tensor, layer, data.arch.layers)]!;
    const openings = buildOpenings(judgeContext(data, POSITION, layer, tol), data, claim);
    const args = [id, { tensor: BigInt(claim.tensor), row: BigInt(claim.row), col: BigInt(claim.col) }, openings] as const;
    return { id, jobId, args };
  }

  const opsToTest = Object.values(Op) as OpCode[];
  for (const op of opsToTest) {
    it(`op ${op} ${OP_NAMES[op]}: beyond tolerance is proven and slashes, within is not`, async () => {
      const layer = op === Op.EMBED ? 0 : op === Op.HEAD_ARGMAX ? base.arch.layers + 1 : 1 + (op % 2);
      const data = steps.get(layer)!;
      const candidates = [...allClaims(layer === 0 ? ({ d: data.arch.hidden } as never) : data.step!.dims, layer, data.arch.layers)].filter(
        (c) => opOf(c.tensor, layer, data.arch.layers) === op,
      );
      const next = data.trace.tokens[POSITION + 1]!;
      // An argmax claim names another token than the committed one.
      const pool = candidates.filter((c) => !(c.tensor === T.ARGMAX && c.col === next));
      const claim = pool[Math.floor(rng(1000 + op)() * pool.length)]!;
      const honest = verdictOf(data, POSITION, layer, claim);
      expect(honest.fraud).toBe(false);
      const bound = q48(honest.bound);
      // For ARGMAX the perturbed logit must first close the gap to the committed token's.
      const gap = op === Op.HEAD_ARGMAX ? q48(honest.claimed - honest.ref) : 0;
      const scale = Math.max(Math.abs(q48(honest.claimed)), 1e-6);

      // Beyond: twice the bound plus a few ulps of the stored format.
      const beyond = perturb(data, POSITION, layer, claim, gap + 2 * bound + scale * 2 ** -9);
      const vb = verdictOf(beyond, POSITION, layer, claim);
      expect(vb.fraud).toBe(true);
      const b = await dispute(beyond, layer, claim);
      const faultsBefore = await d.escrow.read.faultResolutions();
      await d.game.write.proveFraud(b.args, { account: d.challenger.account });
      expect(await d.escrow.read.faultResolutions()).toBe(faultsBefore + 1n);
      const dispute1 = await d.game.read.getDispute([b.id]);
      expect(dispute1.phase).toBe(5); // ChallengerWon

      // Within: half the bound (rounding to the stored format can only shrink it toward 0).
      if (bound > 0) {
        const within = perturb(data, POSITION, layer, claim, gap + bound / 2);
        const vw = verdictOf(within, POSITION, layer, claim);
        expect(vw.fraud).toBe(false);
        const w = await dispute(within, layer, claim);
        await expect(d.game.write.proveFraud(w.args, { account: d.challenger.account })).rejects.toThrow(/NoFraud/);
        expect((await d.game.read.getDispute([w.id])).phase).toBe(2); // still AwaitingProof
      }
      // The TS judge agrees with the chain on the beyond case's numbers.
      const ctx = judgeContext(beyond, POSITION, layer, tolerances()[op]!);
      expect(judgeClaim(ctx, claim, chunkReader(beyond)).ref).toBe(vb.ref);
    });
  }
});
