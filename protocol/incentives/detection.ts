/**
 * The protocol's detection probability and the deterrence limit on a prover's open escrow
 * (PROTOCOL §9.1, §9.4), mirroring `AuditManager.detectionProbability` and `exposureLimit`
 * with Solidity's rounding (integer division, toward zero).
 */
import { auditRateOf, BPS, DETERRENCE, type AuditedModel, type IncentiveParams } from "./params.js";

/** A probability as the contract returns it: `num / den`. */
export type Fraction = { num: bigint; den: bigint };

/**
 * p = ρ · min(k, L+1) / (L+1): the chance that one corrupted block boundary of a committed job
 * is audited and among the audited boundaries, as `(ρ·min(k, L+1), 10⁴·(L+1))`.
 */
export function detectionProbability(params: IncentiveParams, model: AuditedModel): Fraction {
  const l1 = BigInt(model.layers) + 1n;
  const k = params.boundaries < l1 ? params.boundaries : l1;
  return { num: auditRateOf(params, model) * k, den: BPS * l1 };
}

/** The share of audited jobs' boundaries an audit covers: min(k, L+1)/(L+1), as a float. */
export function boundaryCoverage(params: IncentiveParams, layers: number): number {
  const l1 = layers + 1;
  return Math.min(Number(params.boundaries), l1) / l1;
}

/**
 * The most escrow a prover with `freeStake` (after locking the new job's collateral) may have in
 * Open and Committed jobs: p · s · F / D, i.e. `F·num·slashShareBps / (den·10⁴·D)`.
 */
export function exposureLimit(params: IncentiveParams, model: AuditedModel, freeStake: bigint): bigint {
  const { num, den } = detectionProbability(params, model);
  return (freeStake * num * params.slashShareBps) / (den * BPS * DETERRENCE);
}

/** A fraction as a float (for reports; never for amounts). */
export function toNumber(f: Fraction): number {
  return Number(f.num) / Number(f.den);
}
