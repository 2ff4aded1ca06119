/**
 * What a job escrows, locks and pays out (PROTOCOL §5.3, §9.2, §9.5), mirroring
 * `JobEscrow.maxCost`, the collateral rule of `openJob`, `_quote`, `AuditManager._reservePay`
 * and `StepProofGame.bondFor`. Every division rounds down, as in Solidity.
 */
import { BPS, type IncentiveParams } from "./params.js";

export type JobPrices = {
  inputTokens: number;
  maxOutputTokens: number;
  /** Per prompt token / per generated token, in token base units. */
  inputPrice: bigint;
  outputPrice: bigint;
};

/** `maxCost`: the escrow E = P·inPrice + maxOut·outPrice. */
export function maxCost(job: JobPrices): bigint {
  return BigInt(job.inputTokens) * job.inputPrice + BigInt(job.maxOutputTokens) * job.outputPrice;
}

/** `openJob`: K = max(minCollateral, E · collateralBps / 10⁴). */
export function jobCollateral(params: IncentiveParams, escrowed: bigint): bigint {
  const k = (escrowed * params.collateralBps) / BPS;
  return k < params.minCollateral ? params.minCollateral : k;
}

export type SettledJob = JobPrices & {
  outputTokens: number;
  escrowed: bigint;
  /** Snapshotted at openJob. */
  feeBps: bigint;
  auditFeeBps: bigint;
};

export type Quote = { cost: bigint; proverPaid: bigint; fee: bigint; clientRefund: bigint; auditFee: bigint };

/** `_quote`: cost, then fee and audit fee rounded down, the prover the rest, the client the unused escrow. */
export function quote(job: SettledJob): Quote {
  const cost = BigInt(job.inputTokens) * job.inputPrice + BigInt(job.outputTokens) * job.outputPrice;
  const fee = (cost * job.feeBps) / BPS;
  const auditFee = (cost * job.auditFeeBps) / BPS;
  return { cost, proverPaid: cost - fee - auditFee, fee, clientRefund: job.escrowed - cost, auditFee };
}

export type AuditPayParameters = {
  /** The job's cost (what settlement charges), its audit fee and the rate it was drawn at. */
  cost: bigint;
  auditFeeBps: bigint;
  rateBps: bigint;
  /** `escrow.auditPool()` and `AuditManager.reserved` when the report lands. */
  pool: bigint;
  reserved: bigint;
};

/** `_reservePay`: cost · auditFee / ρ, capped by what the pool holds beyond pay already promised. */
export function auditPay(p: AuditPayParameters): bigint {
  const pay = (p.cost * p.auditFeeBps) / p.rateBps;
  const available = p.pool > p.reserved ? p.pool - p.reserved : 0n;
  return pay > available ? available : pay;
}

/** `StepProofGame.bondFor`: challengerBond + escrow · bondBps / 10⁴. */
export function bondFor(params: IncentiveParams, escrowed: bigint): bigint {
  return params.challengerBond + (escrowed * params.bondBps) / BPS;
}
