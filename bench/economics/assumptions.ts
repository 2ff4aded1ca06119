/**
 * The economic assumptions of `npm run sim:economics`, stated once. The protocol's parameters
 * are not here: they are the Ignition defaults (DEFAULT_DEPLOY_PARAMETERS), read through
 * protocol/incentives/. Everything below is a plausible guess about the world around the
 * protocol, printed with every run so a reader can disagree with a number and re-run.
 *
 * Units: token amounts in base units (18 decimals; 1 token ≈ 1 USD stablecoin); times in seconds.
 */

export const TOKEN = 10n ** 18n;

/** Decimal tokens to base units (exact to 10⁻⁹ token, enough for stating assumptions). */
export function tokens(x: number): bigint {
  return BigInt(Math.round(x * 1e9)) * 10n ** 9n;
}

/** Base units to decimal tokens, for reports. */
export function toTokens(x: bigint): number {
  return Number(x) / 1e18;
}

export type DepthName = "tiny" | "8b" | "70b";

export type DepthProfile = {
  depth: DepthName;
  /** Transformer blocks L. */
  layers: number;
  /** Per prompt token / per generated token (base units). */
  inputPrice: bigint;
  outputPrice: bigint;
  /** What each prover stakes (it sizes its demand to what the exposure limit lets this stake carry). */
  proverStake: bigint;
};

/** Per-token list prices of hosted open-weight models in 2024–25, rounded: 8B ≈ $0.20/$0.60 per M, 70B ≈ $0.80/$1.20 per M. */
const perMillion = (usd: number) => tokens(usd) / 1_000_000n;

export const DEPTHS: readonly DepthProfile[] = [
  // The project's test model, priced like 8B (it has no market of its own).
  { depth: "tiny", layers: 4, inputPrice: perMillion(0.2), outputPrice: perMillion(0.6), proverStake: tokens(1_000) },
  { depth: "8b", layers: 32, inputPrice: perMillion(0.2), outputPrice: perMillion(0.6), proverStake: tokens(5_000) },
  { depth: "70b", layers: 80, inputPrice: perMillion(0.8), outputPrice: perMillion(1.2), proverStake: tokens(20_000) },
];

export type GasTable = {
  /** Per transaction (or per job's share of a batched one), in gas units. */
  openJob: number;
  commitResult: number;
  finalizeShare: number;
  fixDraw: number;
  reportAudit: number;
  claimShare: number;
  /** A won step dispute, the challenger's side: openDispute + proveFraud + withdraw. */
  dispute: number;
  /** A sybil's placeholder: openDispute, then its timeout or cancelAfterSlash. */
  placeholder: number;
  registerAndJoin: number;
  canaryCommitAndExpose: number;
};

export type Assumptions = {
  seed: number;
  /** Days of job arrivals per run (events in flight then finish). */
  days: number;
  /** Independent provers per strategy (same arrival streams across strategies: replica i of each sees the same demand). */
  replicas: { honest: number; cheater: number };
  job: { inputTokens: number; maxOutputTokens: number; minOutputTokens: number };
  /** An honest prover's compute cost (GPU time, power, its outside option) as a share of the job's cost. */
  computeShareBps: bigint;
  /** Demand as a share of what the prover's stake can carry under the exposure limit. */
  utilization: number;
  timing: {
    /** Open → commit. */
    serviceSeconds: number;
    /** Commit → an honest auditor's report or dispute (re-executing k boundaries and the head). */
    honestAuditSeconds: number;
    /** Commit → a lazy auditor's report (fetches the probe leaf only). */
    lazyReportSeconds: number;
    /** Provers settle with finalizeMany every this many seconds. */
    finalizeEvery: number;
    /** Dispute open → slash when the canary role's prover answers at once (a cheater stalls its whole clock instead). */
    canaryResolveSeconds: number;
    /** Ejection → a lazy operator's fresh identity joins again. */
    rejoinSeconds: number;
  };
  /** Tokens per unit of gas: a cheap rollup (0.0005 token per million gas ≈ 0.00017 gwei at ETH = $3,000). */
  gasPrice: bigint;
  gas: GasTable;
  pool: { honest: number; lazy: number; offline: number; colluding: number };
  /** Each verifier's stake (its audit bond, minBond, is locked out of it). */
  verifierStake: bigint;
  /** Share of audits that are canaries (the canary role opens c/(1−c) canary jobs per real job). */
  canaryShare: number;
  /** Share of committed jobs a volunteer (an unassigned verifier, §8) checks at k boundaries. */
  volunteerShare: number;
  /** The treasury seeds the audit pool with this many days of expected audit fees. */
  auditPoolSeedDays: number;
  /** Yearly opportunity cost of staked capital (reported, not deducted). */
  capitalCostPerYear: number;
  /** Cheating rate of the sybil-assisted, head-cheating and colluder-assisted provers. */
  schemeCheatRate: number;
};

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  seed: 9,
  days: 14,
  replicas: { honest: 2, cheater: 4 },
  // One long request: a 6k-token prompt, up to 2k generated (500–2,000, uniform).
  job: { inputTokens: 6_000, maxOutputTokens: 2_000, minOutputTokens: 500 },
  computeShareBps: 7_000n,
  utilization: 0.9,
  timing: { serviceSeconds: 60, honestAuditSeconds: 300, lazyReportSeconds: 60, finalizeEvery: 600, canaryResolveSeconds: 600, rejoinSeconds: 3_600 },
  gasPrice: tokens(0.0005) / 1_000_000n,
  // Rounded from .gas-snapshot (SettlementGas) and bench/results/dispute.json.
  gas: { openJob: 220_000, commitResult: 120_000, finalizeShare: 30_000, fixDraw: 50_000, reportAudit: 120_000, claimShare: 20_000, dispute: 1_000_000, placeholder: 300_000, registerAndJoin: 300_000, canaryCommitAndExpose: 150_000 },
  pool: { honest: 8, lazy: 2, offline: 2, colluding: 1 },
  verifierStake: tokens(20),
  canaryShare: 0.01,
  volunteerShare: 0.05,
  auditPoolSeedDays: 1,
  capitalCostPerYear: 0.05,
  schemeCheatRate: 0.1,
};

/** Quick mode: the same code paths at the smallest sizes that still exercise every strategy. */
export const QUICK_ASSUMPTIONS: Assumptions = { ...DEFAULT_ASSUMPTIONS, days: 1, replicas: { honest: 1, cheater: 1 } };
