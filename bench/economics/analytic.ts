/**
 * Closed-form companions of the simulation, from the same formulas (protocol/incentives/) and the
 * same world: the deterrence ratio at the exposure limit, what canaries cost and catch, where
 * collusion starts to pay, the capital a prover must stake, and the gas price at which serving or
 * auditing stops paying.
 */
import {
  auditPay,
  detectionProbability,
  exposureLimit,
  fraudSlash,
  lazyAuditorSlash,
  slashReward,
  toNumber,
  DETERRENCE,
} from "../../protocol/incentives/index.js";
import { toTokens } from "./assumptions.js";
import type { World } from "./world.js";

/** MAX_POOL of contracts/audit/AuditPools.sol. */
const MAX_POOL = 64;
const YEAR = 365 * 86_400;

export type DepthAnalysis = ReturnType<typeof analyseDepth>;

export function analyseDepth(w: World) {
  const { params, a, model } = w;
  const p = toNumber(detectionProbability(params, model));
  const meanQuote = w.quoteFor(Math.round((a.job.minOutputTokens + a.job.maxOutputTokens) / 2));
  const gainSaved = toTokens(w.computeCost(meanQuote.cost));
  const gainFull = toTokens(meanQuote.cost);

  // A prover at its exposure limit: `n` jobs open, their collateral locked.
  const S = w.depth.proverStake;
  const n = BigInt(w.capacityJobs);
  const atLimit = { stake: S, locked: n * w.collateral, unbonding: 0n };
  const freeAtLimit = S - n * w.collateral;
  const exposureAtLimit = n * w.escrowed;
  const slash = fraudSlash(params, atLimit, w.collateral);
  const slashTokens = toTokens(slash.slashed);
  const s = Number(params.slashShareBps) / 1e4;
  // §9.4's guarantee: cheating on every open job at once loses ≥ p·s·F ≥ D·X in expectation.
  const allOpenBound = (p * s * toTokens(freeAtLimit)) / toTokens(exposureAtLimit);

  // Canaries (§9.3): the reward an honest finder takes from the canary prover, what a lazy auditor loses.
  const canaryReward = toTokens(slashReward(params, fraudSlash(params, w.canaryProverStake, w.collateral).slashed));
  const lazyStake = { stake: a.verifierStake, locked: params.minBond, unbonding: 0n };
  const lazyLoss = toTokens(lazyAuditorSlash(params, lazyStake, params.minBond).slashed);
  const pay = toTokens(auditPay({ cost: meanQuote.cost, auditFeeBps: params.auditFeeBps, rateBps: params.auditRateBps, pool: 2n ** 200n, reserved: 0n }));
  const auditCompute = toTokens(w.auditCompute(meanQuote.cost));
  const g = a.gas;
  const gasTokens = (units: number) => toTokens(w.gasCost(units));
  const agreeGas = gasTokens(g.fixDraw + g.reportAudit + g.claimShare);
  const checkers = (a.pool.honest + a.pool.colluding) / (a.pool.honest + a.pool.colluding + a.pool.lazy);
  const rho = w.rho;
  const caughtShare = rho * checkers + (1 - rho * checkers) * a.volunteerShare;
  const costPerCanary = caughtShare * canaryReward + (1 - caughtShare) * toTokens(meanQuote.auditFee) + gasTokens(g.openJob + g.commitResult + g.finalizeShare + g.canaryCommitAndExpose);
  const feePerJob = toTokens(meanQuote.fee);
  const x = feePerJob / costPerCanary;
  const affordableShare = x / (1 + x);
  // The same program if the finder of a canary were paid only the job's audit pay (a contract change).
  const costPerCappedCanary = caughtShare * pay + (1 - caughtShare) * toTokens(meanQuote.auditFee) + gasTokens(g.openJob + g.commitResult + g.finalizeShare + g.canaryCommitAndExpose);
  const c = a.canaryShare;
  const honestPerAudit = (c: number, reward = canaryReward) => (1 - c) * (pay - agreeGas) + c * (reward - gasTokens(g.fixDraw + g.dispute)) - auditCompute;
  const lazyPerAudit = (c: number) => (1 - c) * (pay - agreeGas) - c * (lazyLoss + gasTokens(g.fixDraw + g.reportAudit)) - gasTokens(g.registerAndJoin) * c;

  // Collusion: a coalition holding share f of the pool is caught with p·(1−f) per cheating job.
  const proverPaid = toTokens(meanQuote.proverPaid);
  const lossIfCaught = slashTokens + proverPaid;
  const breakEvenShare = Math.max(0, 1 - gainSaved / (p * lossIfCaught));
  const honestMembers = a.pool.honest;
  const shares = [1 / (a.pool.honest + a.pool.lazy + a.pool.offline + a.pool.colluding), 0.5, 0.9, (MAX_POOL - honestMembers) / MAX_POOL, 1];

  // Capital: the stake a prover needs per job/s it serves, and its yearly cost per job.
  const lifetime = a.timing.serviceSeconds + params.challengeWindow + a.timing.finalizeEvery / 2;
  const jobsPerSecond = Number(n) / lifetime;
  const capitalCostPerJob = (toTokens(S) * a.capitalCostPerYear) / (YEAR * jobsPerSecond * a.utilization);
  const proverMargin = proverPaid - toTokens(w.computeCost(meanQuote.cost));
  const auditMargin = pay - auditCompute;
  const perMgas = (tokens: number, units: number) => (tokens / units) * 1e6;

  return {
    detectionProbability: p,
    exposureLimitShareOfFreeStake: Number(exposureLimit(params, model, 10n ** 30n)) / 1e30,
    job: { escrow: toTokens(w.escrowed), collateral: toTokens(w.collateral), meanCost: toTokens(meanQuote.cost), bond: toTokens(params.challengerBond) + toTokens(w.escrowed) * (Number(params.bondBps) / 1e4) },
    atExposureLimit: { openJobs: Number(n), freeStake: toTokens(freeAtLimit), exposure: toTokens(exposureAtLimit), slashOfOneJob: slashTokens, reward: toTokens(slash.reward) },
    deterrenceRatio: {
      /** p · slash / gain for one cheating job of a prover at its exposure limit (gain = compute saved). */
      analytic: (p * slashTokens) / gainSaved,
      analyticFullPrice: (p * slashTokens) / gainFull,
      /** §9.4's bound for cheating on every open job at once: p·s·F/X (≥ D), per unit of escrow. */
      allOpenJobsBound: allOpenBound,
      floor: Number(DETERRENCE),
    },
    canary: {
      rewardPerCaughtCanary: canaryReward,
      lazyStakeLost: lazyLoss,
      lazyStakeShareLost: lazyLoss / toTokens(a.verifierStake),
      canariesToLoseStake: 1,
      expectedAuditsBeforeCaught: 1 / a.canaryShare,
      treasuryCostPerCanaryJob: costPerCanary,
      /** The canary share the protocol fee can pay for, and what it means for lazy auditors. */
      affordableShare,
      auditsBeforeCaughtAtAffordableShare: 1 / affordableShare,
      honestPerAuditAtAffordableShare: honestPerAudit(affordableShare),
      /** An honest auditor in a network with neither cheaters nor canaries: audit pay alone. */
      honestPerAuditWithoutCanaries: honestPerAudit(0),
      /** With the canary reward capped at the audit pay: the program's cost per real job at c, and honest − lazy per audit. */
      cappedRewardCostPerJob: (c / (1 - c)) * costPerCappedCanary,
      cappedRewardHonestMinusLazy: honestPerAudit(c, pay) - lazyPerAudit(c),
      feePerJob,
      lazyPerAuditAtAffordableShare: lazyPerAudit(affordableShare),
    },
    collusion: {
      /** Pool share above which a coalition's cheating pays (compute-saving gain). */
      breakEvenPoolShare: breakEvenShare,
      coalitionGainPerCheatingJob: shares.map((f) => ({ poolShare: f, expectedProfit: gainSaved - p * (1 - f) * lossIfCaught })),
      /** Stake to fill every free place of a pool of `honest` members (MAX_POOL = 64): the capture attack. */
      poolCaptureStake: (MAX_POOL - honestMembers) * toTokens(a.verifierStake),
    },
    capital: {
      stakePerJobPerSecond: toTokens(S) / jobsPerSecond,
      capitalCostPerJob,
      capitalShareOfMargin: capitalCostPerJob / proverMargin,
    },
    breakEvenGasPerMgas: {
      prover: perMgas(proverMargin, g.commitResult + g.finalizeShare),
      auditor: perMgas(auditMargin, g.fixDraw + g.reportAudit + g.claimShare),
      assumed: perMgas(toTokens(a.gasPrice), 1),
    },
    gains: { savedCompute: gainSaved, fullPrice: gainFull, auditPay: pay, auditCompute },
  };
}
