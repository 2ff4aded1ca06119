/**
 * Stateless dispute agent (PROTOCOL §7.5): the next transaction for either side, recomputed
 * from the dispute's on-chain state and the node's own files every time, so a node that
 * restarts needs no memory of its own. The nodes issue drives it in a loop: read chain → call
 * `nextMove` → send (after checking on-chain that the move is still due).
 */
import { zeroHash, type Hex } from "viem";
import type { StepData } from "./step.js";
import { buildOpenings, chunkReader, judgeContext, stepTree, type DisputeData, type JobTerms, type Opening } from "./proofs.js";
import { findFraud, type Tolerances } from "./scan.js";
import { revealArgs, toLeafArg, type DemandLeaf, type LeafArg } from "./demand.js";
import { descend } from "./descent.js";
import { claimArgs, honestStep, waitChallenger } from "./moves.js";

/** Phase numbering of StepProofGame.Phase. */
export const Phase = { None: 0, AwaitingStepRoot: 1, AwaitingProof: 2, AwaitingData: 3, ProverWon: 4, ChallengerWon: 5, Cancelled: 6 } as const;
/** IJobEscrow.JobStatus.Slashed: another dispute proved fraud, every other dispute on the job is cancelled. */
export const JOB_SLASHED = 5;

/** What the agent reads from chain (StepProofGame.getDispute + its demand log + block time + job + tolerances). */
export type ChainDispute = {
  id: Hex;
  phase: number;
  position: number;
  layer: number;
  stepRoot: Hex;
  turnStartedAt: bigint;
  proverClockLeft: bigint;
  challengerClockLeft: bigint;
  roundsUsed: number;
  /** StepProofGame.MAX_DEMAND_ROUNDS and MAX_LEAVES_PER_DEMAND. */
  maxRounds: number;
  maxLeaves: number;
  /** The outstanding demand (AwaitingData): the leaves of its ChunksDemanded log, and which are revealed (bit i). */
  demand: { leaves: DemandLeaf[]; revealedMask: number };
  /** IJobEscrow.JobStatus of the dispute's job (JOB_SLASHED ends the dispute by cancellation). */
  jobStatus: number;
  now: bigint;
  tolerances: Tolerances;
  /** The job's prompt length and sampling rule (escrow getJob); default: 1 prompt token, greedy. */
  job?: JobTerms;
};

/** What a node holds on disk: model + trace, and for a challenger the chunks it has seen revealed. */
export type Disk = {
  /**
   * Model and committed trace. A prover may include the step it posted (`step`, `stepTree`)
   * and answers demands from it; otherwise its honest step is rebuilt from the trace.
   */
  data: DisputeData;
  /** Chunks read from ChunksRevealed logs (bytes and proof), keyed by `leafKey`. A prover leaves it empty. */
  revealed?: Map<string, Opening>;
  /** The full step served by the prover off-chain, if it did. */
  servedStep?: StepData;
  /**
   * Trace rows h[row][layer] the challenger holds without proofs (or not at all): claims that
   * open them demand them on-chain. Default: none (the whole trace came with its proofs).
   */
  traceMissing?: (layer: number, row: number) => boolean;
};

export type Move =
  | { kind: "postStepRoot"; args: [Hex, Hex] }
  | { kind: "demandChunks"; args: [Hex, LeafArg[]] }
  | { kind: "revealChunks"; args: [Hex, LeafArg[], Hex[], Hex[][]] }
  | { kind: "proveFraud"; args: [Hex, { tensor: bigint; row: bigint; col: bigint }, Opening[]] }
  | { kind: "claimTimeout"; args: [Hex] }
  | { kind: "cancelAfterSlash"; args: [Hex] }
  | { kind: "wait"; until: bigint; reason: string };

export type Role = "prover" | "challenger";

const live = (p: number) => p === Phase.AwaitingStepRoot || p === Phase.AwaitingProof || p === Phase.AwaitingData;

/** The prover's step for this dispute: the one on disk if it matches, else rebuilt honestly (deterministic). */
function proverStep(disk: Disk, c: ChainDispute): DisputeData {
  if (c.layer === 0) return disk.data;
  const s = disk.data.step;
  if (s && disk.data.stepTree && s.position === c.position && s.layer === c.layer) return disk.data;
  return honestStep(disk.data, c);
}

/** The next move of `role` in dispute `c`, or `undefined` when the dispute is over. */
export function nextMove(role: Role, c: ChainDispute, disk: Disk): Move | undefined {
  if (!live(c.phase)) return undefined;
  // Another dispute slashed the job: nothing is left to win or lose here, and a cheater could
  // otherwise post a root nobody can refute and collect the bond on the challenger's clock.
  if (c.jobStatus === JOB_SLASHED) return { kind: "cancelAfterSlash", args: [c.id] };
  const proverToMove = c.phase !== Phase.AwaitingProof;
  const deadline = c.turnStartedAt + (proverToMove ? c.proverClockLeft : c.challengerClockLeft);
  const myTurn = (role === "prover") === proverToMove;
  if (!myTurn) {
    return c.now > deadline ? { kind: "claimTimeout", args: [c.id] } : { kind: "wait", until: deadline + 1n, reason: "opponent to move" };
  }
  if (c.now > deadline) return { kind: "wait", until: deadline, reason: "own clock expired" };
  return role === "prover" ? proverMove(c, disk) : challengerMove(c, disk);
}

function proverMove(c: ChainDispute, disk: Disk): Move {
  const mine = proverStep(disk, c);
  if (c.phase === Phase.AwaitingStepRoot) return { kind: "postStepRoot", args: [c.id, mine.stepTree?.root ?? zeroHash] };
  // Answer the outstanding demand (step and trace leaves) from disk, in as many calls as the
  // calldata budget needs; the chain's revealed mask says which leaves are still due.
  const { leaves, revealedMask } = c.demand;
  const r = revealArgs(mine, leaves, revealedMask);
  return { kind: "revealChunks", args: [c.id, leaves.map(toLeafArg), r.data, r.proofs] };
}

/**
 * Challenger: with the prover's step (served off-chain and matching the posted root), search
 * every element and prove the first violation. Without it, descend from the step's output
 * toward the wrong element using the challenger's own recomputation as a guide, demanding
 * the missing chunks of each claim on-chain (PROTOCOL §7.4 data availability, §7.5).
 */
function challengerMove(c: ChainDispute, disk: Disk): Move {
  const base = judgeContext(disk.data, c.position, c.layer, { atol: 0n, rtol: 0n }, c.job);
  if (disk.servedStep) {
    const served: DisputeData = { ...disk.data, step: disk.servedStep, stepTree: stepTree(disk.servedStep) };
    if (served.stepTree!.root.toLowerCase() === c.stepRoot.toLowerCase()) {
      const [hit] = findFraud(base, disk.servedStep.dims, c.tolerances, chunkReader(served), { limit: 1 });
      if (hit) return claimArgs(c, hit.claim, buildOpenings({ ...base, ...c.tolerances[hit.verdict.op]! }, served, hit.claim));
      return waitChallenger(c, "no element violates its tolerance");
    }
  }
  if (c.layer === 0) {
    const [hit] = findFraud(base, { d: disk.data.arch.hidden } as never, c.tolerances, chunkReader(disk.data), { limit: 1 });
    if (hit) return claimArgs(c, hit.claim, buildOpenings({ ...base, ...c.tolerances[hit.verdict.op]! }, disk.data, hit.claim));
    return waitChallenger(c, "embedding is correct");
  }
  return descend(c, disk, base);
}
