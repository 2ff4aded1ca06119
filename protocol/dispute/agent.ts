/**
 * Stateless dispute agent (PROTOCOL §7.5): the next transaction for either side, recomputed
 * from the dispute's on-chain state and the node's own files every time, so a node that
 * restarts needs no memory of its own. The nodes issue drives it in a loop: read chain → call
 * `nextMove` → send (after checking on-chain that the move is still due).
 */
import { zeroHash, type Hex } from "viem";
import { judgeClaim, SRC_STEP, type Claim, type Loc } from "../evaluator/judge.js";
import { opOf, T } from "../evaluator/layout.js";
import { toNumber } from "../evaluator/fixed.js";
import { decodeF32 } from "../evaluator/fixed.js";
import { buildStep, type StepData } from "./step.js";
import { buildOpenings, chunkReader, judgeContext, resolvedPlan, stepTree, type DisputeData, type JobTerms, type Opening } from "./proofs.js";
import { findFraud, type Tolerances } from "./scan.js";
import { chunkBytes, valueAt } from "./tensors.js";
import { DisputeDataError } from "./model.js";

/** Phase numbering of StepProofGame.Phase. */
export const Phase = { None: 0, AwaitingStepRoot: 1, AwaitingProof: 2, AwaitingData: 3, ProverWon: 4, ChallengerWon: 5, Cancelled: 6 } as const;

/** What the agent reads from chain (StepProofGame.getDispute + block time + registry tolerances). */
export type ChainDispute = {
  id: Hex;
  phase: number;
  position: number;
  layer: number;
  stepRoot: Hex;
  turnStartedAt: bigint;
  proverClockLeft: bigint;
  challengerClockLeft: bigint;
  demandsUsed: number;
  maxDemands: number;
  demand: { tensor: number; row: number; chunk: number };
  now: bigint;
  tolerances: Tolerances;
  /** The job's prompt length and sampling rule (escrow getJob); default: 1 prompt token, greedy. */
  job?: JobTerms;
};

/** What a node holds on disk: model + trace, and for a challenger the step chunks it has seen. */
export type Disk = {
  data: DisputeData;
  /**
   * Step chunks read from ChunkRevealed logs (bytes and proof against the posted step root),
   * keyed by `chunkKey`. A prover leaves it empty.
   */
  stepChunks?: Map<string, Opening>;
  /** The full step served by the prover off-chain, if it did. */
  servedStep?: StepData;
};

export type Move =
  | { kind: "postStepRoot"; args: [Hex, Hex] }
  | { kind: "revealChunk"; args: [Hex, Hex, Hex[]] }
  | { kind: "demandChunk"; args: [Hex, bigint, bigint, bigint] }
  | { kind: "proveFraud"; args: [Hex, { tensor: bigint; row: bigint; col: bigint }, Opening[]] }
  | { kind: "claimTimeout"; args: [Hex] }
  | { kind: "wait"; until: bigint; reason: string };

export type Role = "prover" | "challenger";

const live = (p: number) => p === Phase.AwaitingStepRoot || p === Phase.AwaitingProof || p === Phase.AwaitingData;
const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;
const key = (tensor: number, row: number, chunk: number) => `${tensor}:${row}:${chunk}`;
export const chunkKey = key;

/** The honest step for this dispute, rebuilt from disk (deterministic). */
function honestStep(disk: Disk, c: ChainDispute): DisputeData {
  if (c.layer === 0) return disk.data;
  const step = buildStep(disk.data.arch, disk.data.weights, disk.data.trace, c.position, c.layer, disk.data.encoding.chunkSize);
  return { ...disk.data, step, stepTree: stepTree(step) };
}

/** The next move of `role` in dispute `c`, or `undefined` when the dispute is over. */
export function nextMove(role: Role, c: ChainDispute, disk: Disk): Move | undefined {
  if (!live(c.phase)) return undefined;
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
  const mine = honestStep(disk, c);
  if (c.phase === Phase.AwaitingStepRoot) return { kind: "postStepRoot", args: [c.id, mine.stepTree?.root ?? zeroHash] };
  const { tensor, row, chunk } = c.demand;
  const t = mine.step?.tensors.get(tensor);
  if (!t) throw new DisputeDataError(`demanded tensor ${tensor} is not in the step`);
  return { kind: "revealChunk", args: [c.id, hex(chunkBytes(t, row, chunk, mine.encoding.chunkSize)), mine.stepTree!.proof(tensor, row, chunk)] };
}

function claimArgs(c: ChainDispute, claim: Claim, openings: Opening[]): Move {
  return { kind: "proveFraud", args: [c.id, { tensor: BigInt(claim.tensor), row: BigInt(claim.row), col: BigInt(claim.col) }, openings] };
}

/**
 * Challenger: with the prover's step (served off-chain and matching the posted root), search
 * every element and prove the first violation. Without it, descend from the layer output
 * toward the wrong element using the challenger's own recomputation as a guide, demanding
 * each missing chunk on-chain (PROTOCOL §7.4 data availability).
 */
function challengerMove(c: ChainDispute, disk: Disk): Move {
  const base = judgeContext(disk.data, c.position, c.layer, { atol: 0n, rtol: 0n }, c.job);
  if (disk.servedStep) {
    const served: DisputeData = { ...disk.data, step: disk.servedStep, stepTree: stepTree(disk.servedStep) };
    if (served.stepTree!.root.toLowerCase() === c.stepRoot.toLowerCase()) {
      const [hit] = findFraud(base, disk.servedStep.dims, c.tolerances, chunkReader(served), { limit: 1 });
      if (hit) return claimArgs(c, hit.claim, buildOpenings({ ...base, ...c.tolerances[hit.verdict.op]! }, served, hit.claim));
      return { kind: "wait", until: c.turnStartedAt + c.challengerClockLeft, reason: "no element violates its tolerance" };
    }
  }
  if (c.layer === 0) {
    const [hit] = findFraud(base, { d: disk.data.arch.hidden } as never, c.tolerances, chunkReader(disk.data), { limit: 1 });
    if (hit) return claimArgs(c, hit.claim, buildOpenings({ ...base, ...c.tolerances[hit.verdict.op]! }, disk.data, hit.claim));
    return { kind: "wait", until: c.turnStartedAt + c.challengerClockLeft, reason: "embedding is correct" };
  }
  if (c.layer === disk.data.arch.layers + 1) {
    // The demand descent starts from a block's output; head steps need the served step.
    return { kind: "wait", until: c.turnStartedAt + c.challengerClockLeft, reason: "head step without served data" };
  }
  return descend(c, disk, base);
}

function descend(c: ChainDispute, disk: Disk, base: ReturnType<typeof judgeContext>): Move {
  const own = honestStep(disk, c);
  const chunks = disk.stepChunks ?? new Map<string, Opening>();
  const C = disk.data.encoding.chunkSize;
  const ownRead = chunkReader(own);
  // Reads revealed step chunks; everything else (trace, weights) from disk.
  const read = (loc: Loc): Uint8Array => {
    if (loc.src !== SRC_STEP) return ownRead(loc);
    const b = chunks.get(key(loc.tensor, loc.row, loc.chunk));
    if (!b) throw new MissingChunk(loc);
    return Buffer.from(b.chunk.slice(2), "hex");
  };
  const revealed = (loc: Loc, i: number) => decodeF32(new DataView(read(loc).buffer, read(loc).byteOffset).getUint32(4 * i, true)) ?? 0n;
  // Start at the layer output element that deviates most from our own recomputation.
  const d = own.arch.hidden;
  let claim: Claim = { tensor: T.OUT, row: 0, col: 0 };
  let worst = -1;
  const x1 = own.step!.tensors.get(T.X1)!;
  const yd = own.step!.tensors.get(T.Y_D)!;
  for (let i = 0; i < d; i++) {
    const h = own.trace.hidden[c.layer]!;
    const dev = Math.abs(valueAt(h, c.position, i) - (valueAt(x1, 0, i) + valueAt(yd, 0, i)));
    if (dev > worst) [worst, claim] = [dev, { tensor: T.OUT, row: 0, col: i }];
  }
  for (let depth = 0; depth < 64; depth++) {
    const ctx = { ...base, ...c.tolerances[opOf(claim.tensor, c.layer, disk.data.arch.layers)]! };
    const plan = resolvedPlan(ctx, disk.data, claim);
    const missing = plan.find((loc) => loc.src === SRC_STEP && !chunks.has(key(loc.tensor, loc.row, loc.chunk)));
    if (missing) {
      if (c.demandsUsed >= c.maxDemands) return { kind: "wait", until: c.turnStartedAt + c.challengerClockLeft, reason: "demand budget spent" };
      return { kind: "demandChunk", args: [c.id, BigInt(missing.tensor), BigInt(missing.row), BigInt(missing.chunk)] };
    }
    const v = judgeClaim(ctx, claim, read);
    if (v.fraud) {
      // Step leaves come with the proofs the prover revealed; trace and weights from our trees.
      const openings = plan.map((loc) => {
        if (loc.src === SRC_STEP) return chunks.get(key(loc.tensor, loc.row, loc.chunk))!;
        const tree = loc.src === 0 ? disk.data.traceTree : disk.data.weightsTree;
        return { chunk: hex(ownRead(loc)), proof: tree.proof(loc.tensor, loc.row, loc.chunk) };
      });
      return claimArgs(c, claim, openings);
    }
    // The claim itself checks out: the error is upstream. Follow the step input that deviates
    // most (relative) from our own value.
    let next: Claim | undefined;
    let best = 0;
    for (const loc of plan.slice(1)) {
      if (loc.src !== SRC_STEP) continue;
      const n = Math.min(C, loc.rowLen - loc.chunk * C);
      const ownT = own.step!.tensors.get(loc.tensor)!;
      for (let i = 0; i < n; i++) {
        const col = loc.chunk * C + i;
        const mineV = valueAt(ownT, loc.row, col);
        const dev = Math.abs(toNumber(revealed(loc, i)) - mineV) / (Math.abs(mineV) + 1e-6);
        if (dev > best && loc.tensor !== T.M) [best, next] = [dev, { tensor: loc.tensor, row: loc.row, col }];
      }
    }
    if (!next) return { kind: "wait", until: c.turnStartedAt + c.challengerClockLeft, reason: "no deviating input" };
    claim = next;
  }
  return { kind: "wait", until: c.turnStartedAt + c.challengerClockLeft, reason: "search depth exhausted" };
}

class MissingChunk extends DisputeDataError {
  constructor(readonly loc: Loc) {
    super(`step chunk ${key(loc.tensor, loc.row, loc.chunk)} not available`);
  }
}
