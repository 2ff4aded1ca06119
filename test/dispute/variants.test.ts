/**
 * Architecture variants judged on-chain (PROTOCOL §2.1, §6.2): committed RoPE inverse
 * frequencies (any scaled RoPE, e.g. Llama-3.1/3.2's "llama3" type) and q/k/v projection biases
 * (Qwen2). For each variant: the honest step has no provable element; StepJudge and the
 * TypeScript judge give the same verdict, claimed value, reference and bound on random ROPE
 * and projection-sum claims, honest and perturbed within and beyond tolerance; a prover that
 * leaves the bias out (or uses plain RoPE frequencies) is proven wrong, and the game slashes it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { zeroHash, type Hex } from "viem";
import { hasQkvBias, OP_NAMES, opOf, QKV_BIAS_FLAG, ropeBase, T, W } from "../../protocol/evaluator/layout.js";
import { judgeClaim, type Claim } from "../../protocol/evaluator/judge.js";
import { allClaims } from "../../protocol/dispute/scan.js";
import { buildOpenings, chunkReader, judgeContext, stepTree, type DisputeData } from "../../protocol/dispute/proofs.js";
import { buildStep } from "../../protocol/dispute/step.js";
import { rng } from "../../protocol/dispute/synthetic.js";
import { encodeTensor } from "../../protocol/dispute/tensors.js";
import { weightsTree } from "../../protocol/dispute/model.js";
import { tinyData, TINY, tolerances, withStep } from "./fixture.js";
import { perturb, q48, verdictOf } from "./perturb.js";
import { deployGame, setupJob, type Deployed } from "./chain.js";

const POSITION = 4;
const VARIANTS = [
  { name: "committed RoPE frequencies (Llama-3.1 style)", ropeTheta: 0 },
  { name: "q/k/v biases (Qwen2 style)", ropeTheta: QKV_BIAS_FLAG + 10000 },
  { name: "both", ropeTheta: QKV_BIAS_FLAG },
];
const AFFECTED = [T.Q, T.K, T.Q_PRE, T.K_PRE, T.V_T];

describe("RoPE and projection-bias variants, TypeScript judge vs StepJudge", () => {
  let d: Deployed;
  let nextJob = 500n;
  beforeAll(async () => {
    d = await deployGame();
  });

  /** StepJudge.judge as the game would call it; Context filled by ABI name. */
  async function onChain(data: DisputeData, layer: number, claim: Claim) {
    const tol = tolerances()[opOf(claim.tensor, layer, data.arch.layers)]!;
    const ctx = judgeContext(data, POSITION, layer, tol);
    const named: Record<string, unknown> = { ...ctx, traceRoot: data.traceTree.root, weightsRoot: data.weightsTree.root, stepRoot: data.stepTree!.root };
    const fn = d.judge.abi.find((x) => x.type === "function" && x.name === "judge") as { inputs: { components: { name: string; type: string }[] }[] };
    const c = Object.fromEntries(fn.inputs[0]!.components.map((k) => [k.name, named[k.name] ?? (k.type === "bytes32" ? zeroHash : 0)]));
    const openings = buildOpenings(ctx, data, claim);
    return d.judge.read.judge([c as never, { tensor: BigInt(claim.tensor), row: BigInt(claim.row), col: BigInt(claim.col) }, openings]);
  }

  for (const v of VARIANTS) {
    describe(v.name, () => {
      const data = tinyData({ tokens: 7, seed: 11, arch: { ...TINY, ropeTheta: v.ropeTheta } });
      const steps = [1, 2].map((layer) => withStep(data, POSITION, layer));

      it("commits the variant's tensors, and no element of the honest steps is provable", () => {
        expect(data.weights.has(W.ROPE_FREQ)).toBe(ropeBase(v.ropeTheta) === 0);
        expect(data.weights.has((1 << 8) | W.Q_BIAS)).toBe(hasQkvBias(v.ropeTheta));
        if (ropeBase(v.ropeTheta) === 0) expect(data.weights.get(W.ROPE_FREQ)!.dtype).toBe(2);
        for (const [i, s] of steps.entries()) {
          const layer = i + 1;
          const read = chunkReader(s);
          for (const claim of allClaims(s.step!.dims, layer, s.arch.layers)) {
            const op = opOf(claim.tensor, layer, s.arch.layers);
            const verdict = judgeClaim(judgeContext(s, POSITION, layer, tolerances()[op]!), claim, read);
            expect(verdict.fraud, `${OP_NAMES[op]} ${JSON.stringify(claim)}`).toBe(false);
          }
        }
      });

      it("StepJudge and the TypeScript judge agree on 60 random ROPE and projection claims, honest and perturbed", async () => {
        const r = rng(0x5eed + v.ropeTheta);
        for (let k = 0; k < 60; k++) {
          const layer = 1 + (k % 2);
          const s = steps[layer - 1]!;
          const tensor = AFFECTED[k % AFFECTED.length]!;
          const pool = [...allClaims(s.step!.dims, layer, s.arch.layers)].filter((c) => c.tensor === tensor);
          const claim = pool[Math.floor(r() * pool.length)]!;
          const honest = verdictOf(s, POSITION, layer, claim);
          // 0: honest; 1: within half the bound; 2: beyond twice the bound.
          const kind = k % 3;
          const delta = kind === 0 ? 0 : (kind === 1 ? 0.5 : 2) * q48(honest.bound) + (kind === 2 ? 1e-3 : 0);
          const sample = delta === 0 ? s : perturb(s, POSITION, layer, claim, delta);
          const ts = verdictOf(sample, POSITION, layer, claim);
          const evm = await onChain(sample, layer, claim);
          expect({ fraud: evm.fraud, claimed: evm.claimed, ref: evm.ref, bound: evm.bound }, `${JSON.stringify(claim)} kind ${kind}`).toEqual({ fraud: ts.fraud, claimed: ts.claimed, ref: ts.ref, bound: ts.bound });
          expect(ts.fraud).toBe(kind === 2);
        }
      });
    });
  }

  it("a prover that ignores the biases or the committed frequencies is proven wrong and slashed", async () => {
    const arch = { ...TINY, ropeTheta: QKV_BIAS_FLAG };
    const data = tinyData({ tokens: 7, seed: 11, arch });
    // Its step is built as for a model without the variant: plain θ = 10,000, no biases.
    const plainStep = buildStep({ ...arch, ropeTheta: 10000 }, data.weights, data.trace, POSITION, 1, data.encoding.chunkSize);
    const cheat: DisputeData = { ...data, step: plainStep, stepTree: stepTree(plainStep) };
    for (const claim of [{ tensor: T.Q_PRE, row: 1, col: 3 }, { tensor: T.V_T, row: 5, col: 2 }, { tensor: T.K, row: 3, col: 6 }]) {
      expect(judgeClaim(judgeContext(cheat, POSITION, 1, tolerances()[opOf(claim.tensor, 1, arch.layers)]!), claim, chunkReader(cheat)).fraud, JSON.stringify(claim)).toBe(true);
    }
    // Proven through the game: open, post the step root, prove the missing bias.
    const claim = { tensor: T.Q_PRE, row: 1, col: 3 };
    const jobId = nextJob++;
    await setupJob(d, cheat, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POSITION, 1], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([jobId, POSITION, 1, d.challenger.account.address])) as Hex;
    await d.game.write.postStepRoot([id, cheat.stepTree!.root], { account: d.prover.account });
    const openings = buildOpenings(judgeContext(cheat, POSITION, 1, tolerances()[opOf(claim.tensor, 1, arch.layers)]!), cheat, claim);
    const faults = await d.escrow.read.faultResolutions();
    await d.game.write.proveFraud([id, { tensor: BigInt(claim.tensor), row: BigInt(claim.row), col: BigInt(claim.col) }, openings], { account: d.challenger.account });
    expect(await d.escrow.read.faultResolutions()).toBe(faults + 1n);
  });

  it("a committed frequency chunk that is not binary32 is the registry's problem, never the prover's", async () => {
    const arch = { ...TINY, ropeTheta: 0 };
    const data = tinyData({ tokens: 7, seed: 3, arch });
    // The same frequencies committed as binary16: the judge refuses the weights, it does not slash.
    const weights = new Map(data.weights);
    const f = data.weights.get(W.ROPE_FREQ)!;
    weights.set(W.ROPE_FREQ, encodeTensor(1, f.rowLength, 1, Array.from(f.data)));
    const bad = withStep({ ...data, weights, weightsTree: weightsTree(weights, data.encoding.chunkSize) }, POSITION, 1);
    await expect(onChain(bad, 1, { tensor: T.Q, row: 0, col: 1 })).rejects.toThrow(/WeightsMalformed/);
    expect(() => judgeClaim(judgeContext(bad, POSITION, 1, tolerances()[opOf(T.Q, 1, arch.layers)]!), { tensor: T.Q, row: 0, col: 1 }, chunkReader(bad))).toThrow(/weights chunk malformed/);
  });
});
