/**
 * The game's rules on EDR against mocks: chess clocks at the exact boundary second on both
 * sides, batched data-availability demands (step and trace leaves) answered, split and
 * unanswered, their fees, the leaf and round limits, front-running a
 * winning proof, concurrent disputes on one job, content-derived ids (reorg safety),
 * re-entrancy on payouts, and solvency after every resolution.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, zeroHash, type Hex } from "viem";
import { chunkBytes } from "../../protocol/dispute/tensors.js";
import { opOf, T } from "../../protocol/evaluator/layout.js";
import { buildOpenings, judgeContext, type DisputeData } from "../../protocol/dispute/proofs.js";
import { tinyData, tolerances, withStep } from "./fixture.js";
import { perturb, verdictOf, q48 } from "./perturb.js";
import { BOND, CHALLENGER_CLOCK, DEMAND_FEE, PROVER_CLOCK, deployGame, setupJob, solvency, type Deployed } from "./chain.js";

const POS = 3;
const LAYER = 1;
const CLAIM = { tensor: T.Y_O, row: 0, col: 5 };

describe("StepProofGame rules", () => {
  let d: Deployed;
  let honest: DisputeData;
  let cheat: DisputeData;
  let job = 1000n;

  beforeAll(async () => {
    d = await deployGame();
    honest = withStep(tinyData({ tokens: 6 }), POS, LAYER);
    const v = verdictOf(honest, POS, LAYER, CLAIM);
    cheat = perturb(honest, POS, LAYER, CLAIM, 3 * q48(v.bound) + 0.01);
  });

  async function expectSolvent() {
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
  }

  async function open(data: DisputeData, who = d.challenger) {
    const jobId = job++;
    await setupJob(d, data, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POS, LAYER], { account: who.account });
    const id = (await d.game.read.disputeIdOf([jobId, POS, LAYER, who.account.address])) as Hex;
    const opened = (await d.game.read.getDispute([id])).turnStartedAt;
    return { jobId, id, opened };
  }

  const proofArgs = (id: Hex, data: DisputeData) => {
    const openings = buildOpenings(judgeContext(data, POS, LAYER, tolerances()[opOf(CLAIM.tensor, LAYER, data.arch.layers)]!), data, CLAIM);
    return [id, { tensor: BigInt(CLAIM.tensor), row: BigInt(CLAIM.row), col: BigInt(CLAIM.col) }, openings] as const;
  };
  const at = (ts: bigint) => d.networkHelpers.time.setNextBlockTimestamp(ts);

  it("prover clock: step root accepted at the deadline second, timeout only after it", async () => {
    const a = await open(honest);
    const deadline = a.opened + PROVER_CLOCK;
    expect(await d.game.read.deadlineOf([a.id])).toBe(deadline);
    await at(deadline);
    await d.game.write.postStepRoot([a.id, honest.stepTree!.root], { account: d.prover.account });
    expect((await d.game.read.getDispute([a.id])).proverClockLeft).toBe(0n);

    const b = await open(honest);
    await at(b.opened + PROVER_CLOCK);
    await expect(d.game.write.claimTimeout([b.id], { account: d.other.account })).rejects.toThrow(/ClockRunning/);
    await at(b.opened + PROVER_CLOCK + 1n);
    await expect(d.game.write.postStepRoot([b.id, honest.stepTree!.root], { account: d.prover.account })).rejects.toThrow(/ClockExpired/);
    await at(b.opened + PROVER_CLOCK + 2n);
    const faults = await d.escrow.read.faultResolutions();
    await d.game.write.claimTimeout([b.id], { account: d.other.account });
    expect((await d.game.read.getDispute([b.id])).phase).toBe(5); // ChallengerWon
    expect(await d.escrow.read.faultResolutions()).toBe(faults + 1n);
    await expectSolvent();
  });

  it("challenger clock: proof accepted at the deadline second; timeout after it forfeits the bond to the prover", async () => {
    const a = await open(cheat);
    await d.game.write.postStepRoot([a.id, cheat.stepTree!.root], { account: d.prover.account });
    const started = (await d.game.read.getDispute([a.id])).turnStartedAt;
    await at(started + CHALLENGER_CLOCK);
    await d.game.write.proveFraud(proofArgs(a.id, cheat), { account: d.challenger.account });
    expect((await d.game.read.getDispute([a.id])).phase).toBe(5);

    const b = await open(honest);
    await d.game.write.postStepRoot([b.id, honest.stepTree!.root], { account: d.prover.account });
    const s = (await d.game.read.getDispute([b.id])).turnStartedAt;
    await at(s + CHALLENGER_CLOCK);
    await expect(d.game.write.claimTimeout([b.id])).rejects.toThrow(/ClockRunning/);
    const before = await d.game.read.credits([d.prover.account.address]);
    const clean = await d.escrow.read.cleanResolutions();
    await at(s + CHALLENGER_CLOCK + 1n);
    await d.game.write.claimTimeout([b.id]);
    expect((await d.game.read.getDispute([b.id])).phase).toBe(4); // ProverWon
    expect(await d.game.read.credits([d.prover.account.address])).toBe(before + BOND);
    expect(await d.escrow.read.cleanResolutions()).toBe(clean + 1n);
    await expectSolvent();
  });

  it("an honest step root admits no proof: NoFraud, and the dispute stays open", async () => {
    const a = await open(honest);
    await d.game.write.postStepRoot([a.id, honest.stepTree!.root], { account: d.prover.account });
    await expect(d.game.write.proveFraud(proofArgs(a.id, honest), { account: d.challenger.account })).rejects.toThrow(/NoFraud/);
    expect((await d.game.read.getDispute([a.id])).phase).toBe(2);
  });

  const leaf = (src: number, tensor: number, row: number, chunk: number) => ({ src, tensor: BigInt(tensor), row: BigInt(row), chunk: BigInt(chunk) });

  it("data availability: a batched demand of step and trace leaves answered on-chain publishes them; clocks and fees are charged", async () => {
    const a = await open(honest);
    await d.game.write.postStepRoot([a.id, honest.stepTree!.root], { account: d.prover.account });
    const posted = await d.game.read.getDispute([a.id]);
    const t0 = posted.turnStartedAt;
    await at(t0 + 100n);
    const leaves = [leaf(2, T.D_PART, 5, 1), leaf(0, LAYER - 1, POS, 2), leaf(2, T.X1, 0, 0)];
    const paid = await d.token.read.balanceOf([d.challenger.account.address]);
    await d.game.write.demandChunks([a.id, leaves], { account: d.challenger.account });
    expect(await d.token.read.balanceOf([d.challenger.account.address])).toBe(paid - 3n * DEMAND_FEE);
    const after = await d.game.read.getDispute([a.id]);
    expect(after.phase).toBe(3);
    expect(after.challengerClockLeft).toBe(CHALLENGER_CLOCK - 100n);
    const answer = [chunkOf(honest, 2, T.D_PART, 5, 1), chunkOf(honest, 0, LAYER - 1, POS, 2), chunkOf(honest, 2, T.X1, 0, 0)];
    const data = answer.map((x) => x.chunk);
    const proofs = answer.map((x) => x.proof);
    await expect(d.game.write.revealChunks([a.id, leaves, data, [proofs[0]!, answer[1]!.wrongProof, proofs[2]!]], { account: d.prover.account })).rejects.toThrow(/InvalidChunkProof/);
    await expect(d.game.write.revealChunks([a.id, leaves.slice(0, 2), data.slice(0, 2), proofs.slice(0, 2)], { account: d.prover.account })).rejects.toThrow(/DemandMismatch/);
    const credit0 = await d.game.read.credits([d.prover.account.address]);
    // Split answer: the trace leaf now, the step leaves later; the turn stays with the prover.
    await at(t0 + 120n);
    await d.game.write.revealChunks([a.id, leaves, ["0x", data[1]!, "0x"], [[], proofs[1]!, []]], { account: d.prover.account });
    expect((await d.game.read.getDispute([a.id])).phase).toBe(3);
    await at(t0 + 150n);
    const hash = await d.game.write.revealChunks([a.id, leaves, [data[0]!, "0x", data[2]!], [proofs[0]!, [], proofs[2]!]], { account: d.prover.account });
    const receipt = await d.publicClient.waitForTransactionReceipt({ hash });
    const logs = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "ChunksRevealed", fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber });
    expect((logs[0]!.args as { data: Hex[] }).data[0]).toBe(data[0]);
    expect(await d.game.read.credits([d.prover.account.address])).toBe(credit0 + 3n * DEMAND_FEE);
    const back = await d.game.read.getDispute([a.id]);
    expect(back.phase).toBe(2);
    expect(back.proverClockLeft).toBe(posted.proverClockLeft - 50n);
    await expectSolvent();
  });

  it("data availability: only leaves of the step layout and its trace inputs can be demanded (an honest prover can always answer)", async () => {
    const a = await open(honest);
    await d.game.write.postStepRoot([a.id, honest.stepTree!.root], { account: d.prover.account });
    const [rows, len] = [honest.step!.tensors.get(T.D_PART)!.rows, honest.step!.tensors.get(T.D_PART)!.rowLength];
    const C = honest.encoding.chunkSize;
    const lastChunk = Math.ceil(len / C) - 1;
    for (const bad of [leaf(2, 99, 0, 0), leaf(2, T.OUT, 0, 0), leaf(2, T.D_PART, rows, 0), leaf(2, T.D_PART, 0, lastChunk + 1)]) {
      await expect(d.game.write.demandChunks([a.id, [bad]], { account: d.challenger.account })).rejects.toThrow(/NotAStepLeaf/);
    }
    // Trace: h[p][l'] with p ≤ t and l' ∈ {l − 1, l} only.
    for (const bad of [leaf(0, LAYER + 1, 0, 0), leaf(0, LAYER - 1, POS + 1, 0), leaf(0, LAYER, 0, Math.ceil(honest.arch.hidden / C))]) {
      await expect(d.game.write.demandChunks([a.id, [bad]], { account: d.challenger.account })).rejects.toThrow(/NotATraceLeaf/);
    }
    await d.game.write.demandChunks([a.id, [leaf(2, T.D_PART, rows - 1, lastChunk), leaf(0, LAYER, POS, 0)]], { account: d.challenger.account });
  });

  it("data availability: an unanswered demand loses on the prover's clock and refunds the fees; rounds are capped", async () => {
    const a = await open(honest);
    await d.game.write.postStepRoot([a.id, honest.stepTree!.root], { account: d.prover.account });
    const cap = await d.game.read.MAX_DEMAND_ROUNDS();
    for (let i = 0; i < cap; i++) {
      const l = leaf(2, T.D_PART, i % 32, 0);
      await d.game.write.demandChunks([a.id, [l]], { account: d.challenger.account });
      const b = chunkOf(honest, 2, T.D_PART, i % 32, 0);
      await d.game.write.revealChunks([a.id, [l], [b.chunk], [b.proof]], { account: d.prover.account });
    }
    await expect(d.game.write.demandChunks([a.id, [leaf(2, T.D_PART, 0, 1)]], { account: d.challenger.account })).rejects.toThrow(/DemandLimitReached/);
    await expect(d.game.write.demandChunks([a.id, []], { account: d.challenger.account })).rejects.toThrow(/DemandLimitReached/);

    const c = await open(honest);
    await d.game.write.postStepRoot([c.id, honest.stepTree!.root], { account: d.prover.account });
    const many = Array.from({ length: 17 }, (_, i) => leaf(2, T.D_PART, i, 0));
    await expect(d.game.write.demandChunks([c.id, many], { account: d.challenger.account })).rejects.toThrow(/DemandSize/);
    const held = await d.game.read.feesHeld();
    await d.game.write.demandChunks([c.id, many.slice(0, 16)], { account: d.challenger.account });
    expect(await d.game.read.feesHeld()).toBe(held + 16n * DEMAND_FEE);
    const dl = await d.game.read.deadlineOf([c.id]);
    await at(dl);
    await expect(d.game.write.claimTimeout([c.id])).rejects.toThrow(/ClockRunning/);
    const credit0 = await d.game.read.credits([d.challenger.account.address]);
    await at(dl + 1n);
    await d.game.write.claimTimeout([c.id]);
    expect((await d.game.read.getDispute([c.id])).phase).toBe(5);
    expect(await d.game.read.credits([d.challenger.account.address])).toBe(credit0 + BOND + 16n * DEMAND_FEE);
    expect(await d.game.read.feesHeld()).toBe(held);
    await expectSolvent();
  });

  it("front-running: only the dispute's challenger can submit its proof; a copier's own dispute pays only the copier once", async () => {
    const a = await open(cheat);
    await d.game.write.postStepRoot([a.id, cheat.stepTree!.root], { account: d.prover.account });
    await expect(d.game.write.proveFraud(proofArgs(a.id, cheat), { account: d.other.account })).rejects.toThrow(/NotChallenger/);
    // The copier opens its own dispute on the same step of the same job and proves first.
    await d.game.write.openDispute([a.jobId, POS, LAYER], { account: d.other.account });
    const idOther = (await d.game.read.disputeIdOf([a.jobId, POS, LAYER, d.other.account.address])) as Hex;
    await d.game.write.postStepRoot([idOther, cheat.stepTree!.root], { account: d.prover.account });
    await d.game.write.proveFraud(proofArgs(idOther, cheat), { account: d.other.account });
    expect((await d.escrow.read.getJob([a.jobId])).status).toBe(5); // Slashed, once
    // The original challenger still wins its own dispute (escrow ignores the second fault)…
    await d.game.write.proveFraud(proofArgs(a.id, cheat), { account: d.challenger.account });
    expect((await d.escrow.read.getJob([a.jobId])).openDisputes).toBe(0);
    await expectSolvent();
  });

  it("concurrent disputes: after one slashes the job, the others are cancelled with bonds returned", async () => {
    const a = await open(cheat);
    // A second challenger disputes another step of the same job.
    await d.game.write.openDispute([a.jobId, 2, 2], { account: d.other.account });
    const idB = (await d.game.read.disputeIdOf([a.jobId, 2, 2, d.other.account.address])) as Hex;
    expect((await d.escrow.read.getJob([a.jobId])).openDisputes).toBe(2);
    await expect(d.game.write.cancelAfterSlash([idB])).rejects.toThrow(/JobNotSlashed/);
    await d.game.write.postStepRoot([a.id, cheat.stepTree!.root], { account: d.prover.account });
    await d.game.write.proveFraud(proofArgs(a.id, cheat), { account: d.challenger.account });
    const before = await d.game.read.credits([d.other.account.address]);
    await d.game.write.cancelAfterSlash([idB]);
    expect(await d.game.read.credits([d.other.account.address])).toBe(before + BOND);
    expect((await d.game.read.getDispute([idB])).phase).toBe(6);
    expect((await d.escrow.read.getJob([a.jobId])).openDisputes).toBe(0);
    await expectSolvent();
    // Everyone can withdraw; the game ends holding only open bonds and escrowed fees.
    for (const who of [d.challenger, d.other, d.prover]) {
      if ((await d.game.read.credits([who.account.address])) > 0n) await d.game.write.withdraw({ account: who.account });
    }
    const { balance } = await solvency(d);
    expect(balance).toBe((await d.game.read.bondsHeld()) + (await d.game.read.feesHeld()));
  });

  it("ids are content-derived: opening order (e.g. after a reorg) does not change which dispute a move targets", async () => {
    const jobId = job++;
    await setupJob(d, honest, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, 1, 1], { account: d.other.account });
    await d.game.write.openDispute([jobId, 1, 1], { account: d.challenger.account });
    const mine = (await d.game.read.disputeIdOf([jobId, 1, 1, d.challenger.account.address])) as Hex;
    expect((await d.game.read.getDispute([mine])).challenger.toLowerCase()).toBe(d.challenger.account.address.toLowerCase());
    await expect(d.game.write.openDispute([jobId, 1, 1], { account: d.challenger.account })).rejects.toThrow(/DisputeExists/);
    await expect(d.game.write.openDispute([jobId, 1, 1], { account: d.prover.account })).rejects.toThrow(/ProverCannotChallenge/);
    await expect(d.game.write.openDispute([jobId, 5, 1], { account: d.challenger.account })).rejects.toThrow(/StepOutOfRange/);
    await expect(d.game.write.openDispute([jobId, 0, 4], { account: d.challenger.account })).rejects.toThrow(/StepOutOfRange/);
  });

  it("head step: only position t's norm rows are claimable (an honest zero-filled row cannot be attacked)", async () => {
    const head = withStep(tinyData({ tokens: 6 }), POS, 3);
    const jobId = job++;
    await setupJob(d, head, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POS, 3], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([jobId, POS, 3, d.challenger.account.address])) as Hex;
    await d.game.write.postStepRoot([id, head.stepTree!.root], { account: d.prover.account });
    // R1 col 0 is zero in the honest head step; its "reference" would be rsqrt(ε) if it were judged.
    const claim = { tensor: T.R1, row: 0, col: 0 };
    const C = head.encoding.chunkSize;
    const r1 = head.step!.tensors.get(T.R1)!;
    const chunk = `0x${Buffer.from((r1.data as Float32Array).slice(0, Math.min(C, r1.rowLength)).buffer).toString("hex")}` as Hex;
    const ss = head.step!.tensors.get(T.SS1_PART)!;
    const openings = [{ chunk, proof: head.stepTree!.proof(T.R1, 0, 0) }];
    for (let c = 0; c < Math.ceil(ss.rowLength / C); c++) {
      const s = (ss.data as Float32Array).slice(c * C, Math.min((c + 1) * C, ss.rowLength));
      openings.push({ chunk: `0x${Buffer.from(s.buffer).toString("hex")}` as Hex, proof: head.stepTree!.proof(T.SS1_PART, 0, c) });
    }
    await expect(
      d.game.write.proveFraud([id, { tensor: BigInt(claim.tensor), row: 0n, col: 0n }, openings], { account: d.challenger.account }),
    ).rejects.toThrow(/InvalidClaim/);
  });

  it("disputes cannot open after the challenge deadline", async () => {
    const jobId = job++;
    await setupJob(d, honest, tolerances(), { jobId, challengeWindow: 100n });
    const deadline = (await d.escrow.read.getJob([jobId])).challengeDeadline;
    await at(deadline + 1n);
    await expect(d.game.write.openDispute([jobId, 1, 1], { account: d.challenger.account })).rejects.toThrow(/WindowClosed/);
  });

  function chunkOf(data: DisputeData, src: number, tensor: number, row: number, chunk: number) {
    const t = src === 0 ? data.trace.hidden[tensor]! : data.step!.tensors.get(tensor)!;
    const bytes = chunkBytes(t, row, chunk, data.encoding.chunkSize);
    const proof = (src === 0 ? data.traceTree : data.stepTree!).proof(tensor, row, chunk);
    return { chunk: bytesToHex(bytes), proof, wrongProof: proof.map((p, i) => (i === 0 ? zeroHash : p)) };
  }
});

describe("re-entrancy on payouts", () => {
  it("a token hook re-entering withdraw cannot withdraw twice", async () => {
    const d = await deployGame({ reentrantToken: true });
    const data = tinyData({ tokens: 6 });
    await setupJob(d, data, tolerances(), { jobId: 7n });
    const attacker = await d.viem.deployContract("ReentrantChallenger", [d.game.address]);
    await d.token.write.mint([attacker.address, 10n * BOND]);
    await attacker.write.approve([d.token.address, 2n ** 255n]);
    await attacker.write.open([7n, 1, 1]);
    const id = (await d.game.read.disputeIdOf([7n, 1, 1, attacker.address])) as Hex;
    const opened = (await d.game.read.getDispute([id])).turnStartedAt;
    await d.networkHelpers.time.setNextBlockTimestamp(opened + PROVER_CLOCK + 1n);
    await d.game.write.claimTimeout([id]);
    expect(await d.game.read.credits([attacker.address])).toBe(BOND);
    await attacker.write.withdraw();
    expect(await attacker.read.reentered()).toBe(true);
    expect(await attacker.read.reentrySucceeded()).toBe(false);
    expect(await d.token.read.balanceOf([attacker.address])).toBe(10n * BOND);
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
    void zeroHash;
  });
});
