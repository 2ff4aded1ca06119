/** Small builders shared by the agent and the descent: the honest step, a proof move, a wait. */
import type { Claim } from "../evaluator/judge.js";
import { buildStep } from "./step.js";
import { stepTree, type DisputeData, type Opening } from "./proofs.js";
import type { ChainDispute, Move } from "./agent.js";

/** The honest step of dispute `c`, rebuilt from the committed trace and weights (deterministic). */
export function honestStep(data: DisputeData, c: Pick<ChainDispute, "position" | "layer">): DisputeData {
  const step = buildStep(data.arch, data.weights, data.trace, c.position, c.layer, data.encoding.chunkSize);
  return { ...data, step, stepTree: stepTree(step) };
}

export function claimArgs(c: ChainDispute, claim: Claim, openings: Opening[]): Move {
  return { kind: "proveFraud", args: [c.id, { tensor: BigInt(claim.tensor), row: BigInt(claim.row), col: BigInt(claim.col) }, openings] };
}

/** Wait out the challenger's own clock (nothing it can do wins). */
export const waitChallenger = (c: ChainDispute, reason: string): Move => ({ kind: "wait", until: c.turnStartedAt + c.challengerClockLeft, reason });
