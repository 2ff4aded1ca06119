/**
 * What a slash takes and who gets it (PROTOCOL §9.3–§9.5), mirroring `NodeRegistry.slashStake`,
 * the SlashReward rule of `JobEscrow._slashForFraud` / `onDisputeResolved`, and
 * `AuditManager.exposeCanary`.
 */
import { BPS, type IncentiveParams } from "./params.js";

/** A node's stake as NodeRegistry holds it; `locked ≤ stake`, and `free = stake − locked`. */
export type StakeState = { stake: bigint; locked: bigint; unbonding: bigint };

export type StakeSlash = {
  fromLocked: bigint;
  fromFree: bigint;
  fromUnbonding: bigint;
  /** fromLocked + fromFree + fromUnbonding: credited to the slasher. */
  slashed: bigint;
  /** The node's stake after the slash. */
  after: StakeState;
};

/**
 * `slashStake(node, fromLocked, shareBps, ·)`: all of `fromLocked` (a job's collateral or an
 * auditor's bond), then `shareBps` of the free stake left and of the unbonding stake, each
 * rounded down. Other locked stake is never touched.
 */
export function slashStake(state: StakeState, fromLocked: bigint, shareBps: bigint): StakeSlash {
  if (shareBps > BPS) throw new RangeError(`shareBps ${shareBps} > ${BPS}`);
  if (fromLocked > state.locked) throw new RangeError(`fromLocked ${fromLocked} > locked ${state.locked}`);
  const locked = state.locked - fromLocked;
  const stakeLeft = state.stake - fromLocked;
  const fromFree = ((stakeLeft - locked) * shareBps) / BPS;
  const fromUnbonding = (state.unbonding * shareBps) / BPS;
  return {
    fromLocked,
    fromFree,
    fromUnbonding,
    slashed: fromLocked + fromFree + fromUnbonding,
    after: { stake: stakeLeft - fromFree, locked, unbonding: state.unbonding - fromUnbonding },
  };
}

export type FraudSlash = StakeSlash & {
  /** ⌊slashed · challengerRewardBps / 10⁴⌋, held for the earliest-opened dispute (§9.5). */
  reward: bigint;
  /** slashed − reward, credited to the treasury at once. */
  treasury: bigint;
};

/** Proven fraud or an unanswered availability challenge: K plus `slashShareBps` of free and unbonding stake. */
export function fraudSlash(params: IncentiveParams, prover: StakeState, collateral: bigint): FraudSlash {
  const s = slashStake(prover, collateral, params.slashShareBps);
  const reward = slashReward(params, s.slashed);
  return { ...s, reward, treasury: s.slashed - reward };
}

/** `⌊slashed · challengerRewardBps / 10⁴⌋`. */
export function slashReward(params: IncentiveParams, slashed: bigint): bigint {
  return (slashed * params.challengerRewardBps) / BPS;
}

/** `exposeCanary` on an auditor that approved a canary: its bond, then `lazySlashBps` of the rest; all to the treasury. */
export function lazyAuditorSlash(params: IncentiveParams, auditor: StakeState, bond: bigint): StakeSlash {
  return slashStake(auditor, bond, params.lazySlashBps);
}

/** A dispute on a slashed job, in the order disputes opened (`seq` from 1). */
export type DisputeAtSlash = {
  seq: number;
  challenger: string;
  /** Resolved (the prover won, or it was cancelled) before the slash: no claim. */
  resolvedBeforeSlash: boolean;
};

/**
 * Who receives the held reward: the earliest-opened dispute still unresolved at the slash (the
 * slashing dispute itself counts), never whichever resolved first (§9.5).
 */
export function slashRewardRecipient(disputes: readonly DisputeAtSlash[]): DisputeAtSlash | undefined {
  let best: DisputeAtSlash | undefined;
  for (const d of disputes) if (!d.resolvedBeforeSlash && (best === undefined || d.seq < best.seq)) best = d;
  return best;
}
