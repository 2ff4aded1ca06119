/**
 * The stateless agent drives whole disputes on EDR: each loop re-reads the chain, asks
 * `nextMove` for both sides and sends what is due. Covers a wrong trace proven from a served
 * step, the same proven through on-chain data-availability demands only, a cheater hiding the
 * error one operation deeper (found by descending with demands), and an honest prover winning.
 */
import { describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { Phase } from "../../protocol/dispute/agent.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { T } from "../../protocol/evaluator/layout.js";
import { tinyData, tolerances, withStep } from "./fixture.js";
import { perturb, q48, verdictOf } from "./perturb.js";
import { deployGame, setupJob, solvency, type Deployed } from "./chain.js";
import { play, revealedChunks } from "./play.js";

const POS = 3;
const LAYER = 2;

describe("stateless agent drives disputes", () => {
  const honest = tinyData({ tokens: 6, seed: 3 });
  const claimOut = { tensor: T.OUT, row: 0, col: 7 };
  const honestStep = withStep(honest, POS, LAYER);
  const v = verdictOf(honestStep, POS, LAYER, claimOut);
  // The prover's committed trace has a wrong h[t][l] element.
  const badTrace = perturb(honestStep, POS, LAYER, claimOut, 4 * q48(v.bound) + 0.05);
  const badData: DisputeData = { ...badTrace, step: undefined, stepTree: undefined };
  let job = 1n;

  async function start(d: Deployed, data: DisputeData) {
    const jobId = job++;
    await setupJob(d, data, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POS, LAYER], { account: d.challenger.account });
    return (await d.game.read.disputeIdOf([jobId, POS, LAYER, d.challenger.account.address])) as Hex;
  }

  it("wrong trace, step served off-chain: challenger proves LAYER_OUT", async () => {
    const d = await deployGame();
    const id = await start(d, badData);
    const served = withStep(badData, POS, LAYER).step!;
    const r = await play(d, id, { prover: async () => ({ data: badData }), challenger: async () => ({ data: badData, servedStep: served }) });
    expect(r.phase).toBe(Phase.ChallengerWon);
    expect(r.kinds).toEqual(["prover:postStepRoot", "challenger:proveFraud"]);
    expect(await d.escrow.read.faultResolutions()).toBe(1n);
  });

  it("wrong trace, prover serves nothing: challenger wins through on-chain demands", async () => {
    const d = await deployGame();
    const id = await start(d, badData);
    const r = await play(d, id, {
      prover: async () => ({ data: badData }),
      challenger: async () => ({ data: badData, revealed: await revealedChunks(d, id) }),
    });
    expect(r.phase).toBe(Phase.ChallengerWon);
    expect(r.kinds.filter((k) => k === "challenger:demandChunks").length).toBeGreaterThan(0);
    expect(r.kinds.at(-1)).toBe("challenger:proveFraud");
  });

  it("a cheater hides the error one op deeper (Y_D): the demand descent still finds it", async () => {
    const d = await deployGame();
    // The cheater's step makes X1 + Y_D match its wrong output by bending Y_D[7].
    const stepBad = withStep(badData, POS, LAYER);
    const bent = perturb(stepBad, POS, LAYER, { tensor: T.Y_D, row: 0, col: 7 }, 4 * q48(v.bound) + 0.05);
    const id = await start(d, badData);
    // The cheater answers demands from the step it posted.
    const r = await play(d, id, { prover: async () => ({ data: bent }), challenger: async () => ({ data: badData, revealed: await revealedChunks(d, id) }) });
    expect(r.phase).toBe(Phase.ChallengerWon);
  });

  it("honest prover: the challenger finds nothing and the prover wins on the challenger's clock", async () => {
    const d = await deployGame();
    const id = await start(d, honest);
    const r = await play(d, id, { prover: async () => ({ data: honest }), challenger: async () => ({ data: honest, servedStep: honestStep.step! }) });
    expect(r.phase).toBe(Phase.ProverWon);
    expect(r.kinds).toEqual(["prover:postStepRoot", "prover:claimTimeout"]);
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
  });
});
