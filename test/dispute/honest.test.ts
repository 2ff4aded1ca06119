/**
 * Honest provers never lose (PROTOCOL §7.6). The trace is generated in binary32 arithmetic
 * (`forward.ts`) and stored as binary16 or binary32; the prover recomputes the step in float64
 * with chunked partials (`step.ts`) — a different execution setup. Over 1,000 random disputes
 * (random model, tokens, position, layer, trace dtype, chunk size) the challenger's complete
 * search with the bit-identical TypeScript judge finds no provable element, and on a sample the
 * challenger's closest element is submitted on-chain, reverts NoFraud, and the prover wins.
 */
import { describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { judgeClaim } from "../../protocol/evaluator/judge.js";
import { opOf, OP_NAMES } from "../../protocol/evaluator/layout.js";
import { allClaims } from "../../protocol/dispute/scan.js";
import { buildStep } from "../../protocol/dispute/step.js";
import { buildOpenings, chunkReader, judgeContext, stepTree, type DisputeData } from "../../protocol/dispute/proofs.js";
import { generateGreedy } from "../../protocol/dispute/forward.js";
import { rng, syntheticTokens, syntheticWeights, f32Bits } from "../../protocol/dispute/synthetic.js";
import { traceTree, weightsTree, type Architecture, type Encoding } from "../../protocol/dispute/model.js";
import { tolerances } from "./fixture.js";
import { CHALLENGER_CLOCK, deployGame, setupJob, solvency } from "./chain.js";

const DISPUTES = 1000;
const ON_CHAIN = 30;
const ARCHS: Architecture[] = [
  { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ffn: 24, vocab: 20, context: 16, normEpsBits: f32Bits(1e-5), ropeTheta: 10000 },
  { layers: 2, hidden: 16, heads: 4, kvHeads: 2, ffn: 20, vocab: 20, context: 16, normEpsBits: f32Bits(1e-6), ropeTheta: 500000 },
];

describe("honest provers never lose", () => {
  it(`${DISPUTES} random disputes: no element of an honest step is provable; ${ON_CHAIN} on-chain`, async () => {
    const r = rng(0xa11ce);
    const tol = tolerances();
    const worst = new Map<number, number>();
    let findings = 0;
    let models: DisputeData | undefined;
    const d = await deployGame();
    let onChain = 0;
    for (let i = 0; i < DISPUTES; i++) {
      if (i % 25 === 0) {
        const arch = ARCHS[Math.floor(r() * ARCHS.length)]!;
        const encoding: Encoding = { traceDtype: r() < 0.5 ? 1 : 2, weightsDtype: 1, chunkSize: r() < 0.5 ? 4 : 8 };
        const weights = syntheticWeights(arch, encoding, i + 1);
        // One prompt token and a greedy continuation (the job's inputTokens is 1).
        const trace = generateGreedy(arch, encoding, weights, syntheticTokens(1, arch.vocab, i + 7), 1 + Math.floor(r() * 5));
        models = { arch, encoding, weights, trace, weightsTree: undefined as never, traceTree: undefined as never };
      }
      const m = models!;
      const positions = m.trace.tokens.length - 1;
      const t = Math.floor(r() * positions);
      // 0 embedding, 1..L blocks, L + 1 head.
      const l = Math.floor(r() * (m.arch.layers + 2));
      const step = l === 0 ? undefined : buildStep(m.arch, m.weights, m.trace, t, l, m.encoding.chunkSize);
      const data: DisputeData = { ...m, step };
      const read = chunkReader(data);
      const base = judgeContext(data, t, l, { atol: 0n, rtol: 0n });
      let closest: { claim: { tensor: number; row: number; col: number }; ratio: number } | undefined;
      for (const claim of allClaims(step?.dims ?? ({ d: m.arch.hidden } as never), l, m.arch.layers)) {
        const op = opOf(claim.tensor, l, m.arch.layers);
        const v = judgeClaim({ ...base, ...tol[op]! }, claim, read);
        if (v.fraud) findings++;
        // HEAD_ARGMAX is one-sided: only a logit above the committed token's counts.
        const diff = op === 17 ? Math.max(0, Number(v.ref - v.claimed)) : Number(v.claimed - v.ref);
        const ratio = v.bound === 0n ? (diff === 0 ? 0 : Infinity) : Math.abs(diff) / Number(v.bound);
        worst.set(op, Math.max(worst.get(op) ?? 0, ratio));
        if (!closest || ratio > closest.ratio) closest = { claim, ratio };
      }
      // A sample goes on-chain: the challenger's best shot fails and the prover wins on time.
      if (step && onChain < ON_CHAIN && i % 20 === 0) {
        onChain++;
        const full: DisputeData = { ...data, weightsTree: weightsTree(m.weights, m.encoding.chunkSize), traceTree: traceTree(m.trace, m.encoding.chunkSize), stepTree: stepTree(step) };
        const jobId = BigInt(i + 1);
        const modelId = `0x${(i + 1).toString(16).padStart(64, "0")}` as Hex;
        await setupJob(d, full, tol, { jobId, modelId });
        await d.game.write.openDispute([jobId, t, l], { account: d.challenger.account });
        const id = (await d.game.read.disputeIdOf([jobId, t, l, d.challenger.account.address])) as Hex;
        await d.game.write.postStepRoot([id, full.stepTree!.root], { account: d.prover.account });
        const c = closest!.claim;
        const openings = buildOpenings(judgeContext(full, t, l, tol[opOf(c.tensor, l, m.arch.layers)]!), full, c);
        await expect(
          d.game.write.proveFraud([id, { tensor: BigInt(c.tensor), row: BigInt(c.row), col: BigInt(c.col) }, openings], { account: d.challenger.account }),
        ).rejects.toThrow(/NoFraud/);
        await d.networkHelpers.time.increase(CHALLENGER_CLOCK + 1n);
        await d.game.write.claimTimeout([id]);
        expect((await d.game.read.getDispute([id])).phase).toBe(4); // ProverWon
      }
    }
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
    // Margin report: the largest |claimed − ref| / bound per op over all honest elements.
    console.log(Object.fromEntries([...worst].map(([op, w]) => [OP_NAMES[op], w.toExponential(2)])));
    expect(findings).toBe(0);
    expect(onChain).toBe(ON_CHAIN);
  });
});
