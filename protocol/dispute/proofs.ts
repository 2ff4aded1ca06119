/**
 * Step root and one-step proof builders (PROTOCOL §7.2, §7.4): the step tree, a chunk reader
 * over trace + weights + step, and the `openings` argument of `StepProofGame.proveFraud`.
 */
import { bytesToHex, type Hex } from "viem";
import { chunkLeaf, JobTokenTrees, STEP_DOMAIN } from "../commitments/index.js";
import { SRC_STEP, SRC_TRACE, SRC_WEIGHTS, planOpenings, type Claim, type ChunkReader, type JudgeContext, type Loc } from "../evaluator/judge.js";
import { T, TOKEN_TENSOR_ID, W } from "../evaluator/layout.js";
import { chunkBytes } from "./tensors.js";
import { DisputeDataError, IndexedTree, tokenBytes, type ChunkTree, type Architecture, type Encoding, type Trace, type Weights } from "./model.js";
import type { StepData } from "./step.js";

/** Step tree: leaves by (tensor, row, chunk) ascending over every step tensor. */
export function stepTree(step: StepData): IndexedTree {
  const C = step.dims.C;
  const entries: { tensor: number; row: number; chunk: number; leaf: Hex }[] = [];
  for (const id of [...step.tensors.keys()].sort((a, b) => a - b)) {
    const t = step.tensors.get(id)!;
    const chunks = Math.ceil(t.rowLength / C);
    for (let r = 0; r < t.rows; r++) {
      for (let c = 0; c < chunks; c++) {
        entries.push({ tensor: id, row: r, chunk: c, leaf: chunkLeaf({ domain: STEP_DOMAIN, tensorId: id, row: r, chunkIndex: c }, chunkBytes(t, r, c, C)) });
      }
    }
  }
  return new IndexedTree(entries);
}

/** Everything a node holds on disk for one dispute. */
export type DisputeData = {
  arch: Architecture;
  encoding: Encoding;
  weights: Weights;
  /** Any tree with the weights root: a node builds it with a fast hash (node-common/dispute-data.ts). */
  weightsTree: ChunkTree;
  trace: Trace;
  traceTree: IndexedTree;
  step?: StepData;
  stepTree?: IndexedTree;
};

/** The job terms the judge reads (PROTOCOL §7.1): prompt length and sampling rule (§4.4; its seed keys the noise). */
export type JobTerms = { inputTokens: number; samplingParams: bigint };

export function judgeContext(
  data: DisputeData,
  position: number,
  layer: number,
  tol: { atol: bigint; rtol: bigint },
  job: JobTerms = { inputTokens: 1, samplingParams: 0n },
): JudgeContext {
  const { arch, encoding } = data;
  return {
    position,
    layer,
    layers: arch.layers,
    inputTokens: job.inputTokens,
    samplingParams: job.samplingParams,
    traceDtype: encoding.traceDtype,
    weightsDtype: encoding.weightsDtype,
    chunkSize: encoding.chunkSize,
    hidden: arch.hidden,
    heads: arch.heads,
    kvHeads: arch.kvHeads,
    ffn: arch.ffn,
    vocab: arch.vocab,
    normEpsBits: arch.normEpsBits,
    ropeTheta: arch.ropeTheta,
    atol: tol.atol,
    rtol: tol.rtol,
  };
}

/** Reads committed chunk bytes for any leaf of the three trees. */
export function chunkReader(data: DisputeData): ChunkReader {
  const C = data.encoding.chunkSize;
  return (loc: Loc) => {
    if (loc.src === SRC_TRACE) {
      if (loc.tensor === TOKEN_TENSOR_ID) return tokenBytes(data.trace.tokens[loc.row]!);
      return chunkBytes(data.trace.hidden[loc.tensor]!, loc.row, loc.chunk, C);
    }
    if (loc.src === SRC_WEIGHTS) {
      const w = data.weights.get(loc.tensor);
      if (!w) throw new DisputeDataError(`weights tensor ${loc.tensor} missing`);
      return chunkBytes(w, loc.row, loc.chunk, C);
    }
    const t = data.step?.tensors.get(loc.tensor);
    if (!t) throw new DisputeDataError(`step tensor ${loc.tensor} missing`);
    return chunkBytes(t, loc.row, loc.chunk, C);
  };
}

export type Opening = { chunk: Hex; proof: Hex[] };

/** Leaves of a claim with the EMBED weight row resolved to the trace's token. */
export function resolvedPlan(ctx: JudgeContext, data: DisputeData, claim: Claim): Loc[] {
  const plan = planOpenings(ctx, claim);
  if (claim.tensor === T.EMBED) plan[2] = { ...plan[2]!, row: data.trace.tokens[ctx.position]! };
  if (claim.tensor === T.ARGMAX) plan[2] = { ...plan[2]!, chunk: Math.floor(data.trace.tokens[ctx.position + 1]! / ctx.chunkSize) };
  return plan;
}

const tokenTrees = new WeakMap<readonly number[], Map<number, JobTokenTrees>>();

/**
 * Proof of the token at `position` against the job's prompt root (position < inputTokens) or
 * output root (PROTOCOL §3.4): the judge never opens the trace root's token leaves. The trees
 * are built once per token list and prompt length.
 */
export function tokenOpeningProof(tokens: readonly number[], inputTokens: number, position: number): Hex[] {
  let byP = tokenTrees.get(tokens);
  if (!byP) tokenTrees.set(tokens, (byP = new Map()));
  let trees = byP.get(inputTokens);
  if (!trees) byP.set(inputTokens, (trees = new JobTokenTrees(tokens, inputTokens)));
  if (position >= inputTokens && !trees.output) throw new DisputeDataError(`no output token at position ${position}`);
  return trees.proof(position);
}

/** The `openings` argument of proveFraud for `claim`. */
export function buildOpenings(ctx: JudgeContext, data: DisputeData, claim: Claim): Opening[] {
  const read = chunkReader(data);
  return resolvedPlan(ctx, data, claim).map((loc) => {
    if (loc.src === SRC_TRACE && loc.tensor === TOKEN_TENSOR_ID) {
      return { chunk: bytesToHex(read(loc)), proof: tokenOpeningProof(data.trace.tokens, ctx.inputTokens, loc.row) };
    }
    const tree = loc.src === SRC_TRACE ? data.traceTree : loc.src === SRC_WEIGHTS ? data.weightsTree : data.stepTree;
    if (!tree) throw new DisputeDataError("no step tree: the step root has not been built");
    return { chunk: bytesToHex(read(loc)), proof: tree.proof(loc.tensor, loc.row, loc.chunk) };
  });
}

export { SRC_STEP, SRC_TRACE, SRC_WEIGHTS, W };
