/**
 * The parameters of the incentive formulas (PROTOCOL §5.4, §9.6), as integers the way the
 * contracts hold them. protocol/ sits below ignition/, so this module never reads the deploy
 * defaults itself: callers pass them in (`incentiveParams(DEFAULT_DEPLOY_PARAMETERS)`).
 */

/** Basis points: 10⁴ = 100 % (`BPS` in every contract). */
export const BPS = 10_000n;
/** `AuditManager.DETERRENCE`: expected loss of cheating ≥ D × its gain at the exposure limit (§9.4). */
export const DETERRENCE = 10n;

export type IncentiveParams = {
  /** JobEscrow: protocol fee on a settled job's cost. */
  feeBps: bigint;
  /** JobEscrow: collateral K = max(minCollateral, escrow · collateralBps / 10⁴). */
  collateralBps: bigint;
  minCollateral: bigint;
  /** JobEscrow: share of a fraud slash held for the earliest-opened dispute (§9.5). */
  challengerRewardBps: bigint;
  /** JobEscrow: seconds from commit during which disputes may open. */
  challengeWindow: number;
  /** NodeRegistry: minimum stake to take a job / to register as a verifier. */
  minProverStake: bigint;
  minVerifierStake: bigint;
  /** StepProofGame: bondFor = challengerBond + escrow · bondBps / 10⁴; the prover's chess clock. */
  challengerBond: bigint;
  bondBps: bigint;
  proverClock: number;
  /** AuditManager (§9.6). */
  auditRateBps: bigint;
  boundaries: bigint;
  slashShareBps: bigint;
  jailPeriod: number;
  auditFeeBps: bigint;
  auditPeriod: number;
  vestDelay: number;
  lazySlashBps: bigint;
  maxMisses: number;
  minBond: bigint;
};

type Int = number | bigint;

/** The shape of the deploy defaults (ignition's DEFAULT_DEPLOY_PARAMETERS) this module reads. */
export type IncentiveParamsSource = {
  feeBps: Int;
  collateralBps: Int;
  minCollateral: Int;
  challengerRewardBps: Int;
  challengeWindow: Int;
  minProverStake: Int;
  minVerifierStake: Int;
  challengerBond: Int;
  bondBps: Int;
  proverClock: Int;
  audit: {
    auditRateBps: Int;
    boundaries: Int;
    slashShareBps: Int;
    jailPeriod: Int;
    auditFeeBps: Int;
    auditPeriod: Int;
    vestDelay: Int;
    lazySlashBps: Int;
    maxMisses: Int;
    minBond: Int;
  };
};

/** Normalise deploy parameters to the integer types of the formulas. */
export function incentiveParams(source: IncentiveParamsSource): IncentiveParams {
  const a = source.audit;
  return {
    feeBps: BigInt(source.feeBps),
    collateralBps: BigInt(source.collateralBps),
    minCollateral: BigInt(source.minCollateral),
    challengerRewardBps: BigInt(source.challengerRewardBps),
    challengeWindow: Number(source.challengeWindow),
    minProverStake: BigInt(source.minProverStake),
    minVerifierStake: BigInt(source.minVerifierStake),
    challengerBond: BigInt(source.challengerBond),
    bondBps: BigInt(source.bondBps),
    proverClock: Number(source.proverClock),
    auditRateBps: BigInt(a.auditRateBps),
    boundaries: BigInt(a.boundaries),
    slashShareBps: BigInt(a.slashShareBps),
    jailPeriod: Number(a.jailPeriod),
    auditFeeBps: BigInt(a.auditFeeBps),
    auditPeriod: Number(a.auditPeriod),
    vestDelay: Number(a.vestDelay),
    lazySlashBps: BigInt(a.lazySlashBps),
    maxMisses: Number(a.maxMisses),
    minBond: BigInt(a.minBond),
  };
}

/** What the formulas need to know of a model: its depth and, if governance set one, its own audit rate. */
export type AuditedModel = {
  /** Transformer blocks L (boundaries 0..L). */
  layers: number;
  /** `setModelAuditRate`; absent or 0: the default `auditRateBps` (`auditRateOf`). */
  auditRateBps?: Int;
};

/** `AuditParams.auditRateOf`: the model's own rate, or the default. */
export function auditRateOf(params: IncentiveParams, model: AuditedModel): bigint {
  const own = BigInt(model.auditRateBps ?? 0);
  return own === 0n ? params.auditRateBps : own;
}
