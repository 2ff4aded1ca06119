/**
 * The sampled-output attack is closed (PROTOCOL §4.4, §7.1): in a Gumbel-max job (τ = 0.8) a
 * prover that substitutes another output token — its trace computed correctly over the chosen
 * output (teacher forcing) — loses the head step's HEAD_ARGMAX claim, in the TypeScript judge
 * and on-chain; an honest sampled job's head steps have no provable claim at all. Tolerances
 * are the fixture's, which register op 17 with the cross-setup drift as production does (PROTOCOL §6.5).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { T } from "../../protocol/evaluator/layout.js";
import * as ops from "../../protocol/evaluator/ops.js";
import { judgeClaim } from "../../protocol/evaluator/judge.js";
import { buildOpenings, chunkReader, judgeContext, type DisputeData, type JobTerms } from "../../protocol/dispute/proofs.js";
import { findFraud } from "../../protocol/dispute/scan.js";
import { generateGreedy, generateSampled, generateTrace } from "../../protocol/dispute/forward.js";
import { traceTree, weightsTree } from "../../protocol/dispute/model.js";
import { f32Bits, syntheticTokens, syntheticWeights } from "../../protocol/dispute/synthetic.js";
import { decodeF32 } from "../../protocol/evaluator/fixed.js";
import { valueAt } from "../../protocol/dispute/tensors.js";
import { encodeSamplingParams } from "../../protocol/sampling/rule.js";
import { TINY, TINY_ENC, tolerances, withStep } from "./fixture.js";
import { deployGame, setupJob, type Deployed } from "./chain.js";

const HEAD = TINY.layers + 1;
const NEW_TOKENS = 6;

/** The judge's job terms and the job's id in the escrow (the noise is keyed by the seed alone, PROTOCOL §4.4). */
type Job = JobTerms & { jobId: bigint };

function sampledJob(job: Job, substitute?: { position: number; token: number }): DisputeData {
  const weights = syntheticWeights(TINY, TINY_ENC, 1);
  let trace = generateSampled(TINY, TINY_ENC, weights, syntheticTokens(1, TINY.vocab, 2), NEW_TOKENS, job.samplingParams);
  if (substitute) {
    // Teacher forcing: the cheater's own output, and a trace computed correctly over it.
    const tokens = [...trace.tokens];
    tokens[substitute.position] = substitute.token;
    trace = generateTrace(TINY, TINY_ENC, weights, tokens);
  }
  return { arch: TINY, encoding: TINY_ENC, weights, weightsTree: weightsTree(weights, TINY_ENC.chunkSize), trace, traceTree: traceTree(trace, TINY_ENC.chunkSize) };
}

/** Judge scores of every id at the head step of `t` (LOGIT from the step, noise of position t + 1). */
function scores(data: DisputeData, t: number, job: JobTerms): bigint[] {
  const logit = data.step!.tensors.get(T.LOGIT)!;
  const rule = ops.samplingRule(job.samplingParams);
  return Array.from({ length: TINY.vocab }, (_, v) => ops.score(decodeF32(f32Bits(valueAt(logit, 0, v)))!, rule.tau, rule.seed, t + 1, v));
}

describe("sampled jobs: HEAD_ARGMAX judges the Gumbel-max rule", () => {
  let d: Deployed;
  const tol = tolerances();
  // Two jobs, two seeds drawn by their clients.
  const HONEST: Job = { inputTokens: 1, samplingParams: encodeSamplingParams({ temperature: 0.8, seed: 2026n }), jobId: 501n };
  const CHEAT: Job = { inputTokens: 1, samplingParams: encodeSamplingParams({ temperature: 0.8, seed: 0xfeedbeefcafe0001n }), jobId: 502n };
  const headCtx = (data: DisputeData, t: number, job: JobTerms) => ({ ...judgeContext(data, t, HEAD, tol[17]!, job) });

  beforeAll(async () => {
    d = await deployGame();
  });

  async function openHead(data: DisputeData, job: Job, t: number) {
    const ch = d.challenger.account;
    await d.game.write.openDispute([job.jobId, t, HEAD], { account: ch });
    const id = await d.game.read.disputeIdOf([job.jobId, t, HEAD, ch.address]);
    await d.game.write.postStepRoot([id, data.stepTree!.root], { account: d.prover.account });
    return id;
  }
  const argmaxArgs = (id: `0x${string}`, data: DisputeData, t: number, job: JobTerms, j: number) =>
    [id, { tensor: BigInt(T.ARGMAX), row: 0n, col: BigInt(j) }, buildOpenings(headCtx(data, t, job), data, { tensor: T.ARGMAX, row: 0, col: j })] as const;

  it("an honest sampled job: no head-step claim is provable (TS, every claim of every step; EVM, every ARGMAX id)", async () => {
    const honest = sampledJob(HONEST);
    // The sampled output differs from the greedy one: the rule really samples.
    expect(honest.trace.tokens).not.toEqual(generateGreedy(TINY, TINY_ENC, honest.weights, honest.trace.tokens.slice(0, 1), NEW_TOKENS).tokens);
    await setupJob(d, honest, tol, { jobId: HONEST.jobId, samplingParams: HONEST.samplingParams });
    for (let t = 0; t <= NEW_TOKENS - 1; t++) {
      const data = withStep(honest, t, HEAD);
      const base = judgeContext(data, t, HEAD, { atol: 0n, rtol: 0n }, HONEST);
      expect(findFraud(base, data.step!.dims, tol, chunkReader(data))).toEqual([]);
      // The committed token is the judge's own best score (not merely within tolerance).
      const s = scores(data, t, HONEST);
      expect(s.indexOf(s.reduce((a, b) => (b > a ? b : a)))).toBe(data.trace.tokens[t + 1]);
      if (t === 1 || t === NEW_TOKENS - 1) {
        const id = await openHead(data, HONEST, t);
        for (let j = 0; j < TINY.vocab; j++) {
          await expect(d.game.write.proveFraud(argmaxArgs(id, data, t, HONEST, j), { account: d.challenger.account })).rejects.toThrow(/NoFraud/);
        }
        expect((await d.game.read.getDispute([id])).phase).toBe(2); // still AwaitingProof
      }
    }
  });

  it("a substituted output token (teacher-forced trace) is proven by HEAD_ARGMAX and slashes", async () => {
    const t = 2;
    const honest = withStep(sampledJob(CHEAT), t, HEAD);
    const s = scores(honest, t, CHEAT);
    const ruled = honest.trace.tokens[t + 1]!;
    // The cheater's pick: the greedy token if the rule chose another one, else the runner-up.
    const logit = honest.step!.tensors.get(T.LOGIT)!;
    const byLogit = Array.from({ length: TINY.vocab }, (_, v) => v).sort((a, b) => valueAt(logit, 0, b) - valueAt(logit, 0, a));
    const substitute = byLogit.find((v) => v !== ruled)!;
    expect(s[ruled]! > s[substitute]!).toBe(true);

    const cheat = withStep(sampledJob(CHEAT, { position: t + 1, token: substitute }), t, HEAD);
    expect(cheat.trace.tokens[t + 1]).toBe(substitute);
    // Every other claim of the cheater's head step is honest: only the choice is wrong.
    const base = judgeContext(cheat, t, HEAD, { atol: 0n, rtol: 0n }, CHEAT);
    const found = findFraud(base, cheat.step!.dims, tol, chunkReader(cheat));
    expect(found.map((f) => f.claim.tensor)).toEqual(found.map(() => T.ARGMAX));
    const verdict = judgeClaim(headCtx(cheat, t, CHEAT), { tensor: T.ARGMAX, row: 0, col: ruled }, chunkReader(cheat));
    expect(verdict.fraud).toBe(true);
    expect(verdict.ref - verdict.claimed).toBeGreaterThan(verdict.bound);

    await setupJob(d, cheat, tol, { jobId: CHEAT.jobId, samplingParams: CHEAT.samplingParams });
    const id = await openHead(cheat, CHEAT, t);
    const faultsBefore = await d.escrow.read.faultResolutions();
    await d.game.write.proveFraud(argmaxArgs(id, cheat, t, CHEAT, ruled), { account: d.challenger.account });
    expect(await d.escrow.read.faultResolutions()).toBe(faultsBefore + 1n);
    expect((await d.game.read.getDispute([id])).phase).toBe(5); // ChallengerWon
  });

  it("the same honest sampled trace judged as a greedy job is fraud where the noise changed the choice", () => {
    const job = sampledJob(CHEAT);
    const greedy: JobTerms = { inputTokens: 1, samplingParams: 0n };
    let departures = 0;
    for (let t = 0; t < NEW_TOKENS; t++) {
      const data = withStep(job, t, HEAD);
      const z = scores(data, t, greedy);
      const greedyToken = z.indexOf(z.reduce((a, b) => (b > a ? b : a)));
      const asGreedy = findFraud(judgeContext(data, t, HEAD, { atol: 0n, rtol: 0n }, greedy), data.step!.dims, tol, chunkReader(data), { limit: 1 });
      expect(findFraud(judgeContext(data, t, HEAD, { atol: 0n, rtol: 0n }, CHEAT), data.step!.dims, tol, chunkReader(data))).toEqual([]);
      if (greedyToken !== data.trace.tokens[t + 1]) {
        departures++;
        expect(asGreedy.map((f) => f.claim.tensor)).toEqual([T.ARGMAX]);
      }
    }
    expect(departures).toBeGreaterThan(0);
  });
});
