/**
 * The game wired to the real settlement contracts (ModelRegistry, NodeRegistry, JobEscrow) as
 * governance would deploy them: a prover with a wrong trace is slashed through the escrow hook
 * (client refunded in full, challenger rewarded from the slash, bond returned); an honest
 * prover's job is frozen during the dispute, then finalizes and pays once the challenger times out.
 */
import { describe, expect, it } from "vitest";
import { network } from "hardhat";
import { keccak256, toHex, type Hex } from "viem";
import { tokenRoot } from "../../protocol/commitments/index.js";
import { OP_COUNT, T } from "../../protocol/evaluator/layout.js";
import { buildOpenings, judgeContext, type DisputeData } from "../../protocol/dispute/proofs.js";
import { tinyData, tolerances, withStep } from "./fixture.js";
import { perturb, q48, verdictOf } from "./perturb.js";
import { DEFAULT_DEPLOY_PARAMETERS } from "../../ignition/modules/Stepproof.js";

const POS = 2;
const LAYER = 1;
const E18 = 10n ** 18n;

async function deployReal() {
  const { viem, networkHelpers } = await network.create();
  const [admin, prover, client, challenger, treasury] = await viem.getWalletClients();
  const token = await viem.deployContract("TestToken", [admin!.account.address]);
  const models = await viem.deployContract("ModelRegistry", [admin!.account.address, OP_COUNT]);
  const nodes = await viem.deployContract("NodeRegistry", [admin!.account.address, token.address, models.address, 100n * E18, 10n * E18, 7n * 86400n, treasury!.account.address]);
  const params = { feeBps: 250, commitTimeout: 600, challengeWindow: 3600, collateralBps: 20_000, minCollateral: E18, missedCommitPenaltyBps: 5_000, challengerRewardBps: 5_000, declineWindow: 120, maxPublishedPerProver: 4 };
  const escrow = await viem.deployContract("JobEscrow", [admin!.account.address, token.address, nodes.address, models.address, params]);
  await nodes.write.grantRole([await nodes.read.ESCROW_ROLE(), escrow.address]);
  await nodes.write.grantRole([await nodes.read.SLASHER_ROLE(), escrow.address]);
  await escrow.write.setTreasury([treasury!.account.address]);
  const judge = await viem.deployContract("StepJudge");
  const game = await viem.deployContract("StepProofGame", [escrow.address, models.address, judge.address, token.address, E18, 0, 3600n, 7200n, 10n ** 15n]);
  await escrow.write.setDisputeGame([game.address]);
  const audits = await viem.deployContract("AuditManager", [admin!.account.address, escrow.address, nodes.address, models.address, { ...DEFAULT_DEPLOY_PARAMETERS.audit }]);
  await nodes.write.grantRole([await nodes.read.AUDIT_ROLE(), audits.address]);
  await nodes.write.grantRole([await nodes.read.SLASHER_ROLE(), audits.address]);
  await escrow.write.setAuditManager([audits.address]);
  for (const w of [prover!, client!, challenger!]) {
    await token.write.mint([w.account.address, 10_000n * E18]);
    for (const spender of [nodes.address, escrow.address, game.address]) await token.write.approve([spender, 2n ** 255n], { account: w.account });
  }
  await nodes.write.register([1, 1000n * E18, "http://127.0.0.1:8600"], { account: prover!.account });
  // The challenger is the model's only pool member, so it is the auditor of any audited job and
  // never waits on another auditor's priority (PROTOCOL §9.1).
  await nodes.write.register([2, 100n * E18, "http://127.0.0.1:8700"], { account: challenger!.account });
  return { viem, networkHelpers, token, models, nodes, escrow, judge, game, audits, prover: prover!, client: client!, challenger: challenger!, treasury: treasury! };
}

async function committedJob(d: Awaited<ReturnType<typeof deployReal>>, data: DisputeData, modelId: Hex) {
  // The registry requires C² ≥ context (PROTOCOL §7.2); this fixture's C = 4 covers 16 tokens.
  const arch = { ...data.arch, context: Math.min(data.arch.context, data.encoding.chunkSize ** 2) };
  await d.models.write.registerModel([modelId, data.weightsTree.root, keccak256(toHex("manifest")), arch, data.encoding, tolerances()]);
  await d.nodes.write.setOffer([modelId, 10n ** 15n, 10n ** 15n], { account: d.prover.account });
  await d.audits.write.joinPool([modelId], { account: d.challenger.account });
  const n = data.trace.tokens.length;
  const jobId = await d.escrow.read.nextJobId();
  await d.escrow.write.openJob(
    [{ prover: d.prover.account.address, modelId, promptRoot: tokenRoot(data.trace.tokens.slice(0, 2), 0), samplingParams: 0n, inputTokens: 2, maxOutputTokens: n, inputPrice: 10n ** 15n, outputPrice: 10n ** 15n }],
    { account: d.client.account },
  );
  await d.escrow.write.commitResult([jobId, data.traceTree.root, tokenRoot(data.trace.tokens.slice(2), 2), n - 2], { account: d.prover.account });
  return jobId;
}

describe("StepProofGame with the real escrow, registries and staking", () => {
  const honest = withStep(tinyData({ tokens: 6, seed: 5 }), POS, LAYER);
  const claim = { tensor: T.OUT, row: 0, col: 11 };

  it("fraud proven: job Slashed, client refunded, challenger rewarded and bond returned", async () => {
    const d = await deployReal();
    const v = verdictOf(honest, POS, LAYER, claim);
    const bad = withStep(perturb(honest, POS, LAYER, claim, 4 * q48(v.bound) + 0.05), POS, LAYER);
    const jobId = await committedJob(d, bad, keccak256(toHex("m1")));
    const escrowed = (await d.escrow.read.getJob([jobId])).escrowed;
    const collateral = (await d.escrow.read.getJob([jobId])).collateral;
    await d.game.write.openDispute([jobId, POS, LAYER], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([jobId, POS, LAYER, d.challenger.account.address])) as Hex;
    expect((await d.escrow.read.getJob([jobId])).openDisputes).toBe(1);
    await d.game.write.postStepRoot([id, bad.stepTree!.root], { account: d.prover.account });
    const openings = buildOpenings(judgeContext(bad, POS, LAYER, tolerances()[16]!), bad, claim);
    await d.game.write.proveFraud([id, { tensor: BigInt(claim.tensor), row: 0n, col: BigInt(claim.col) }, openings], { account: d.challenger.account });
    const job = await d.escrow.read.getJob([jobId]);
    expect(job.status).toBe(5); // Slashed
    expect(job.openDisputes).toBe(0);
    expect(await d.escrow.read.credits([d.client.account.address])).toBe(escrowed);
    // Collateral plus half the prover's remaining free stake (1,000 staked), half of it rewarded (§9.4–§9.5).
    const slashed = collateral + (1000n * E18 - collateral) / 2n;
    expect(await d.nodes.read.credits([d.challenger.account.address])).toBe(slashed / 2n);
    expect((await d.nodes.read.getNode([d.prover.account.address])).jailedUntil).toBeGreaterThan(0n);
    const before = await d.token.read.balanceOf([d.challenger.account.address]);
    await d.game.write.withdraw({ account: d.challenger.account });
    expect(await d.token.read.balanceOf([d.challenger.account.address])).toBe(before + E18);
  });

  it("honest prover: finalization is blocked during the dispute, then the prover is paid", async () => {
    const d = await deployReal();
    const jobId = await committedJob(d, honest, keccak256(toHex("m2")));
    await d.game.write.openDispute([jobId, POS, LAYER], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([jobId, POS, LAYER, d.challenger.account.address])) as Hex;
    await d.game.write.postStepRoot([id, honest.stepTree!.root], { account: d.prover.account });
    const openings = buildOpenings(judgeContext(honest, POS, LAYER, tolerances()[16]!), honest, claim);
    await expect(
      d.game.write.proveFraud([id, { tensor: BigInt(claim.tensor), row: 0n, col: BigInt(claim.col) }, openings], { account: d.challenger.account }),
    ).rejects.toThrow(/NoFraud/);
    await d.networkHelpers.time.increase(3601n);
    await expect(d.escrow.write.finalize([jobId])).rejects.toThrow();
    await d.networkHelpers.time.increase(7200n);
    await d.game.write.claimTimeout([id]);
    expect(await d.game.read.credits([d.prover.account.address])).toBe(E18);
    await d.escrow.write.finalize([jobId]);
    expect((await d.escrow.read.getJob([jobId])).status).toBe(3); // Finalized
  });
});
