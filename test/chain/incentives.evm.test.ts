/**
 * Differential test: the TypeScript incentive formulas (protocol/incentives/) against the
 * deployed contracts. Random audit parameters, model depths, per-model rates and free stakes for
 * `AuditManager.detectionProbability` / `exposureLimit`; real job quotes, bonds and collateral;
 * and real fraud slashes (collateral + share of free and unbonding stake, the held reward and who
 * receives it) compared with what NodeRegistry and JobEscrow credited. The dispute game is an
 * account here, so a test can open and resolve disputes through the escrow's hook directly.
 * Requires `npx hardhat build`.
 */
import { network } from "hardhat";
import { keccak256, toHex, type Hex } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DEPLOY_PARAMETERS as D } from "../../ignition/modules/Stepproof.js";
import { OP_COUNT } from "../../protocol/evaluator/layout.js";
import { recommendedTolerances } from "../../protocol/game/tolerances.js";
import {
  bondFor,
  detectionProbability,
  exposureLimit,
  fraudSlash,
  incentiveParams,
  jobCollateral,
  maxCost,
  quote,
  slashRewardRecipient,
  type IncentiveParams,
} from "../../protocol/incentives/index.js";

const E18 = 10n ** 18n;
const IN_PRICE = 2n * 10n ** 11n;
const OUT_PRICE = 6n * 10n ** 11n;
const LAYERS = [1, 2, 4, 7, 32, 80, 126, 200];

/** Fixed-seed xorshift32, so a failure reproduces. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    int: (lo: number, hi: number) => lo + (next() % (hi - lo + 1)),
    /** A bigint with up to `bits` random bits (varying magnitudes). */
    big: (bits: number) => {
      const n = 1 + (next() % bits);
      let v = 0n;
      for (let i = 0; i < n; i += 16) v = (v << 16n) | BigInt(next() & 0xffff);
      return v & ((1n << BigInt(n)) - 1n);
    },
  };
}

async function deploy() {
  const { viem, networkHelpers } = await network.create();
  const wallets = await viem.getWalletClients();
  const [admin, client, challenger, treasury, game, sybil] = wallets;
  const provers = wallets.slice(6, 14);
  const token = await viem.deployContract("TestToken", [admin!.account.address]);
  const models = await viem.deployContract("ModelRegistry", [admin!.account.address, OP_COUNT]);
  const nodes = await viem.deployContract("NodeRegistry", [admin!.account.address, token.address, models.address, D.minProverStake, D.minVerifierStake, D.unbondingDelay, treasury!.account.address]);
  const escrow = await viem.deployContract("JobEscrow", [
    admin!.account.address,
    token.address,
    nodes.address,
    models.address,
    { feeBps: D.feeBps, commitTimeout: D.commitTimeout, challengeWindow: D.challengeWindow, collateralBps: D.collateralBps, minCollateral: D.minCollateral, missedCommitPenaltyBps: D.missedCommitPenaltyBps, challengerRewardBps: D.challengerRewardBps, declineWindow: D.declineWindow, maxPublishedPerProver: D.maxPublishedPerProver },
  ]);
  await nodes.write.grantRole([await nodes.read.ESCROW_ROLE(), escrow.address]);
  await nodes.write.grantRole([await nodes.read.SLASHER_ROLE(), escrow.address]);
  await escrow.write.setTreasury([treasury!.account.address]);
  // An account stands in for the dispute game: it drives the escrow's dispute hook directly.
  await escrow.write.setDisputeGame([game!.account.address]);
  const audits = await viem.deployContract("AuditManager", [admin!.account.address, escrow.address, nodes.address, models.address, { ...D.audit }]);
  await nodes.write.grantRole([await nodes.read.AUDIT_ROLE(), audits.address]);
  await nodes.write.grantRole([await nodes.read.SLASHER_ROLE(), audits.address]);
  await escrow.write.setAuditManager([audits.address]);
  // A StepProofGame instance reading this escrow, only for its bondFor view.
  const judge = await viem.deployContract("StepJudge");
  const bonds = await viem.deployContract("StepProofGame", [escrow.address, models.address, judge.address, token.address, D.challengerBond, D.bondBps, D.proverClock, D.challengerClock, D.demandFee]);
  for (const w of [client!, challenger!, sybil!, ...provers]) {
    await token.write.mint([w.account.address, 1_000_000n * E18]);
    await token.write.approve([nodes.address, 2n ** 255n], { account: w.account });
    await token.write.approve([escrow.address, 2n ** 255n], { account: w.account });
  }
  // The challenger is the only member of every pool: it audits every audited job, so its
  // disputes never meet another auditor's priority (PROTOCOL §9.1).
  await nodes.write.register([2, 100n * E18, "http://127.0.0.1:8700"], { account: challenger!.account });
  const modelIds: Hex[] = [];
  for (const layers of LAYERS) {
    const modelId = keccak256(toHex(`incentives-${layers}`));
    const arch = { layers, hidden: 64, heads: 4, kvHeads: 2, ffn: 176, vocab: 259, context: 8192, normEpsBits: 0x3727c5ac, ropeTheta: 10000 };
    await models.write.registerModel([modelId, keccak256(toHex("w")), keccak256(toHex("m")), arch, { traceDtype: 1, weightsDtype: 1, chunkSize: 128 }, recommendedTolerances({ atol: 2 ** -10, rtol: 2 ** -8 })]);
    await audits.write.joinPool([modelId], { account: challenger!.account });
    modelIds.push(modelId);
  }
  return { viem, networkHelpers, token, models, nodes, escrow, audits, bonds, admin: admin!, client: client!, challenger: challenger!, treasury: treasury!, game: game!, sybil: sybil!, provers, modelIds };
}

type Suite = Awaited<ReturnType<typeof deploy>>;

describe("protocol/incentives equals the contracts (PROTOCOL §5.3, §9)", () => {
  let d: Suite;
  const params: IncentiveParams = incentiveParams(D);

  beforeAll(async () => {
    d = await deploy();
  });

  it("detectionProbability and exposureLimit on random parameters, depths, rates and stakes", async () => {
    const r = rng(0x1ce9);
    let compared = 0;
    for (let round = 0; round < 8; round++) {
      const audit = { ...D.audit, auditRateBps: r.int(1, 10_000), boundaries: r.int(1, 255), slashShareBps: r.int(1_000, 10_000) };
      if (round === 0) Object.assign(audit, D.audit);
      await d.audits.write.setParams([audit]);
      const p = incentiveParams({ ...D, audit });
      for (let m = 0; m < LAYERS.length; m++) {
        // Some models get their own audit rate (0 restores the default).
        const own = round > 0 && r.int(0, 2) === 0 ? r.int(0, 10_000) : 0;
        await d.audits.write.setModelAuditRate([d.modelIds[m]!, own]);
        const model = { layers: LAYERS[m]!, auditRateBps: own };
        const [num, den] = await d.audits.read.detectionProbability([d.modelIds[m]!]);
        expect({ num, den }, `round ${round} L=${model.layers}`).toEqual(detectionProbability(p, model));
        for (let i = 0; i < 4; i++) {
          const free = r.big(i === 0 ? 24 : 128);
          expect(await d.audits.read.exposureLimit([d.modelIds[m]!, free]), `round ${round} L=${model.layers} F=${free}`).toBe(exposureLimit(p, model, free));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThanOrEqual(250);
    await d.audits.write.setParams([{ ...D.audit }]);
    for (const id of d.modelIds) await d.audits.write.setModelAuditRate([id, 0]);
  });

  /** A prover with `stake`, `extraJobs` other open jobs and `unbond` requested; one more job committed. */
  async function committedJobOf(proverIndex: number, c: { stake: bigint; extraJobs: number; unbond: bigint; maxOut: number }) {
    const prover = d.provers[proverIndex]!;
    const modelId = d.modelIds[2]!; // L = 4
    await d.nodes.write.register([1, c.stake, `http://127.0.0.1:${9000 + proverIndex}`], { account: prover.account });
    await d.nodes.write.setOffer([modelId, IN_PRICE, OUT_PRICE], { account: prover.account });
    const open = async (maxOut: number) => {
      const jobId = await d.escrow.read.nextJobId();
      await d.escrow.write.openJob([{ prover: prover.account.address, modelId, promptRoot: keccak256(toHex(`p${jobId}`)), samplingParams: 0n, inputTokens: 100, maxOutputTokens: maxOut, inputPrice: IN_PRICE, outputPrice: OUT_PRICE }], { account: d.client.account });
      return jobId;
    };
    for (let i = 0; i < c.extraJobs; i++) await open(50);
    if (c.unbond > 0n) await d.nodes.write.requestUnbond([c.unbond], { account: prover.account });
    const jobId = await open(c.maxOut);
    const job = await d.escrow.read.getJob([jobId]);
    const E = maxCost({ inputTokens: 100, maxOutputTokens: c.maxOut, inputPrice: IN_PRICE, outputPrice: OUT_PRICE });
    expect(job.escrowed).toBe(E);
    expect(job.collateral).toBe(jobCollateral(params, E));
    expect(await d.bonds.read.bondFor([jobId])).toBe(bondFor(params, E));
    const outputTokens = Math.max(1, c.maxOut - 7);
    await d.escrow.write.commitResult([jobId, keccak256(toHex("trace")), keccak256(toHex("out")), outputTokens], { account: prover.account });
    const [proverPaid, fee, clientRefund, auditFee] = await d.escrow.read.quote([jobId]);
    const ts = quote({ inputTokens: 100, maxOutputTokens: c.maxOut, inputPrice: IN_PRICE, outputPrice: OUT_PRICE, outputTokens, escrowed: E, feeBps: BigInt(D.feeBps), auditFeeBps: BigInt(D.audit.auditFeeBps) });
    expect({ proverPaid, fee, clientRefund, auditFee }).toEqual({ proverPaid: ts.proverPaid, fee: ts.fee, clientRefund: ts.clientRefund, auditFee: ts.auditFee });
    return { prover, jobId, collateral: job.collateral };
  }

  const stateOf = async (who: Hex) => {
    const n = await d.nodes.read.getNode([who]);
    return { stake: n.stake, locked: n.locked, unbonding: n.unbonding };
  };

  it("fraud slashes: what NodeRegistry took and JobEscrow credited equal fraudSlash", async () => {
    const cases = [
      { stake: 100n * E18, extraJobs: 0, unbond: 0n, maxOut: 1000 },
      { stake: 1_000n * E18 + 12_345n, extraJobs: 3, unbond: 0n, maxOut: 4000 },
      { stake: 5_000n * E18 + 7n, extraJobs: 2, unbond: 777n * E18 + 3n, maxOut: 8000 },
      // A job large enough that 2·E exceeds the 1-token collateral floor.
      { stake: 2_000_000n * E18 + 1n, extraJobs: 1, unbond: 123_456_789n, maxOut: 8000 - 100 },
    ];
    for (const [i, c] of cases.entries()) {
      const { prover, jobId, collateral } = i === 3 ? await bigJob(i, c) : await committedJobOf(i, c);
      const before = await stateOf(prover.account.address);
      const expected = fraudSlash(params, before, collateral);
      const treasuryBefore = await d.nodes.read.credits([d.treasury.account.address]);
      const challengerBefore = await d.nodes.read.credits([d.challenger.account.address]);
      await d.escrow.write.onDisputeOpened([jobId, d.challenger.account.address], { account: d.game.account });
      await d.escrow.write.onDisputeResolved([jobId, 1, true, d.challenger.account.address], { account: d.game.account });
      expect(await stateOf(prover.account.address), `case ${i}`).toEqual(expected.after);
      expect((await d.nodes.read.credits([d.treasury.account.address])) - treasuryBefore, `case ${i}`).toBe(expected.treasury);
      expect((await d.nodes.read.credits([d.challenger.account.address])) - challengerBefore, `case ${i}`).toBe(expected.reward);
      expect(expected.fromUnbonding > 0n).toBe(c.unbond > 0n);
    }
  });

  /** Case with escrow above the collateral floor: the prover's offer is 10⁵ times dearer. */
  async function bigJob(proverIndex: number, c: { stake: bigint; extraJobs: number; unbond: bigint; maxOut: number }) {
    const prover = d.provers[proverIndex]!;
    const modelId = d.modelIds[2]!;
    const inP = IN_PRICE * 10n ** 5n;
    const outP = OUT_PRICE * 10n ** 5n;
    await d.token.write.mint([prover.account.address, c.stake]);
    await d.nodes.write.register([1, c.stake, "http://127.0.0.1:9100"], { account: prover.account });
    await d.nodes.write.setOffer([modelId, inP, outP], { account: prover.account });
    await d.token.write.mint([d.client.account.address, 10n ** 30n]);
    for (let i = 0; i <= c.extraJobs; i++) {
      if (i === c.extraJobs && c.unbond > 0n) await d.nodes.write.requestUnbond([c.unbond], { account: prover.account });
      await d.escrow.write.openJob([{ prover: prover.account.address, modelId, promptRoot: keccak256(toHex(`b${i}`)), samplingParams: 0n, inputTokens: 100, maxOutputTokens: c.maxOut, inputPrice: inP, outputPrice: outP }], { account: d.client.account });
    }
    const jobId = (await d.escrow.read.nextJobId()) - 1n;
    const job = await d.escrow.read.getJob([jobId]);
    const E = maxCost({ inputTokens: 100, maxOutputTokens: c.maxOut, inputPrice: inP, outputPrice: outP });
    expect(job.collateral).toBe(jobCollateral(params, E));
    expect(job.collateral > params.minCollateral).toBe(true);
    await d.escrow.write.commitResult([jobId, keccak256(toHex("trace")), keccak256(toHex("out")), c.maxOut], { account: prover.account });
    return { prover, jobId, collateral: job.collateral };
  }

  it("the reward goes to the earliest-opened dispute even when a later one slashes first (§9.5)", async () => {
    const { prover, jobId, collateral } = await committedJobOf(5, { stake: 300n * E18, extraJobs: 1, unbond: 0n, maxOut: 500 });
    // After the audit period anyone may challenge: the finder opens first, the prover's sybil second.
    await d.networkHelpers.time.increase(D.audit.auditPeriod + 1);
    const expected = fraudSlash(params, await stateOf(prover.account.address), collateral);
    const finderBefore = await d.nodes.read.credits([d.challenger.account.address]);
    await d.escrow.write.onDisputeOpened([jobId, d.challenger.account.address], { account: d.game.account });
    await d.escrow.write.onDisputeOpened([jobId, d.sybil.account.address], { account: d.game.account });
    // The sybil's dispute wins first (the prover posted a malformed root to it).
    await d.escrow.write.onDisputeResolved([jobId, 2, true, d.sybil.account.address], { account: d.game.account });
    await d.escrow.write.onDisputeResolved([jobId, 1, true, d.challenger.account.address], { account: d.game.account });
    const recipient = slashRewardRecipient([
      { seq: 1, challenger: "finder", resolvedBeforeSlash: false },
      { seq: 2, challenger: "sybil", resolvedBeforeSlash: false },
    ]);
    expect(recipient?.challenger).toBe("finder");
    expect((await d.nodes.read.credits([d.challenger.account.address])) - finderBefore).toBe(expected.reward);
    expect(await d.nodes.read.credits([d.sybil.account.address])).toBe(0n);
  });
});
