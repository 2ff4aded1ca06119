/**
 * The challenger's descent without served step data (PROTOCOL §7.5): start at the step's
 * output claim that the challenger's own recomputation refutes (OUT for a block step, or the
 * row bound OUT_ROW when every element is within its own; ARGMAX of the committed next token
 * for the head step), demand every missing chunk of that claim's
 * opening plan in one round, judge it with the revealed chunks, and if it holds, follow the
 * most upstream input (earliest in the §7.2 dependency order) whose revealed value deviates
 * from the challenger's own beyond its tolerance slack, then beyond half its bound, backtracking
 * when a branch ends without fraud. Every move goes to a tensor of smaller id, so a path ends
 * within the §7.2 graph's depth (StepProofGame.MAX_DEMAND_ROUNDS).
 */
import type { Hex } from "viem";
import { judgeClaim, JudgeError, SRC_STEP, SRC_TRACE, type Claim, type JudgeContext, type Loc } from "../evaluator/judge.js";
import { opOf, T, TOKEN_TENSOR_ID } from "../evaluator/layout.js";
import { toNumber } from "../evaluator/fixed.js";
import { chunkReader, resolvedPlan, stepTree, tokenOpeningProof, type DisputeData, type Opening } from "./proofs.js";
import { buildStep, type StepTamper } from "./step.js";
import { locKey, openingBytes, toLeafArg, type DemandLeaf } from "./demand.js";
import { valueAt } from "./tensors.js";
import { DisputeDataError } from "./model.js";
import type { ChainDispute, Disk, Move } from "./agent.js";
import { claimArgs, honestStep, waitChallenger } from "./moves.js";

/**
 * An input deviates when |revealed − own| exceeds this share of the element's own tolerance
 * bound. Honest rounding never comes near it: the measured honest deviation is ≤ 0.004 of the
 * bound for ops 1–15 (PROTOCOL §6.5).
 */
export const DEVIATION_SHARE = 0.5;
/**
 * An element whose inputs equal ours and which passes its check differs from our value by at
 * most its bound plus our own rounding (≤ 0.004 of it): beyond this share the deviation cannot
 * be a within-tolerance decoy.
 */
export const SLACK_SHARE = 1.01;
/** Sub-threshold candidates tried per claim after the others, largest deviation first. */
const FALLBACKS = 3;
/** Claims judged per call at most (the revealed subgraph is small; this bounds a pathological one). */
const VISIT_BUDGET = 4000;

class MissingChunk extends DisputeDataError {
  constructor(readonly loc: Loc) {
    super(`chunk ${locKey(loc)} not available`);
  }
}

type Candidate = { claim: Claim; ratio: number };

export function descend(c: ChainDispute, disk: Disk, base: Omit<JudgeContext, "atol" | "rtol">): Move {
  const layers = disk.data.arch.layers;
  const revealed = disk.revealed ?? new Map<string, Opening>();
  const own = ownStep(disk.data, c, revealed);
  const ownRead = chunkReader(own);
  const ctxFor = (tensor: number): JudgeContext => ({ ...base, ...c.tolerances[opOf(tensor, c.layer, layers)]! });
  // Leaves the challenger cannot open from its own trees: every step leaf, and trace rows it lacks.
  const onChain = (loc: Loc): boolean =>
    loc.src === SRC_STEP || (loc.src === SRC_TRACE && loc.tensor !== TOKEN_TENSOR_ID && (disk.traceMissing?.(loc.tensor, loc.row) ?? false));
  const read = (loc: Loc): Uint8Array => {
    if (!onChain(loc)) return ownRead(loc);
    const o = revealed.get(locKey(loc));
    if (!o) throw new MissingChunk(loc);
    return openingBytes(o);
  };

  const start = startClaim(c, own, ctxFor, ownRead);
  if (!start) return waitChallenger(c, "the committed output agrees with our own recomputation");
  // Depth-first over the revealed data, deterministic, so every call retraces the same path:
  // a branch that ends without fraud (a within-tolerance decoy) is left for the next candidate,
  // and the first claim whose plan is not yet revealed is this round's demand.
  const dead = new Set<string>();
  let budget = VISIT_BUDGET;
  let roundsSpent = false;
  const visit = (claim: Claim): Move | undefined => {
    const k = `${claim.tensor}:${claim.row}:${claim.col}`;
    if (dead.has(k) || budget-- <= 0) return undefined;
    const ctx = ctxFor(claim.tensor);
    const plan = resolvedPlan(ctx, disk.data, claim);
    const missing = dedupe(plan.filter((loc) => onChain(loc) && !revealed.has(locKey(loc))));
    if (missing.length > 0) {
      if (c.roundsUsed < c.maxRounds) {
        const leaves = missing.slice(0, c.maxLeaves).map((l): DemandLeaf => ({ src: l.src as DemandLeaf["src"], tensor: l.tensor, row: l.row, chunk: l.chunk }));
        return { kind: "demandChunks", args: [c.id, leaves.map(toLeafArg)] };
      }
      roundsSpent = true;
      return undefined; // no rounds left for this branch; another may be fully revealed
    }
    if (judgeClaim(ctx, claim, read).fraud) {
      // Revealed leaves come with the prover's proofs; the rest from our own trees.
      const openings = plan.map((loc): Opening => {
        if (onChain(loc)) return revealed.get(locKey(loc))!;
        // Tokens open against the job's prompt/output roots, never the trace root (PROTOCOL §3.4).
        if (loc.src === SRC_TRACE && loc.tensor === TOKEN_TENSOR_ID) {
          return { chunk: hex(ownRead(loc)), proof: tokenOpeningProof(disk.data.trace.tokens, ctx.inputTokens, loc.row) };
        }
        const tree = loc.src === SRC_TRACE ? disk.data.traceTree : disk.data.weightsTree;
        return { chunk: hex(ownRead(loc)), proof: tree.proof(loc.tensor, loc.row, loc.chunk) };
      });
      return claimArgs(c, claim, openings);
    }
    for (const next of upstream(plan, claim, own, read, ownRead, ctxFor, disk.data.encoding.chunkSize)) {
      const move = visit(next);
      if (move) return move;
    }
    dead.add(k);
    return undefined;
  };
  return visit(start) ?? waitChallenger(c, roundsSpent ? "demand rounds spent" : "no claim on a deviating path is refutable");
}

/**
 * Our own step, with the softmax shift pinned to the prover's where it has revealed it. The
 * shift is the prover's free choice (bounded by Z ≥ 1, PROTOCOL §6.2): a different shift scales
 * E, Z_PART, Z and O_PART of a head by exp(ours − theirs) without anything being wrong (O is
 * invariant), so comparing against our shift would make every E of the head look deviating and
 * send the descent down consistent branches until the demand rounds run out.
 */
function ownStep(data: DisputeData, c: ChainDispute, revealed: ReadonlyMap<string, Opening>): DisputeData {
  if (c.layer < 1 || c.layer > data.arch.layers) return honestStep(data, c);
  const shifts = new Map<number, number>();
  const C = data.encoding.chunkSize;
  for (let chunk = 0; chunk * C < data.arch.heads; chunk++) {
    const o = revealed.get(locKey({ src: SRC_STEP, tensor: T.M, row: 0, chunk }));
    if (!o) continue;
    const bytes = openingBytes(o);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; 4 * i < bytes.length; i++) {
      const m = view.getFloat32(4 * i, true);
      if (Number.isFinite(m)) shifts.set(chunk * C + i, m);
    }
  }
  if (shifts.size === 0) return honestStep(data, c);
  const pin: StepTamper = (id, t, row, col) => {
    if (id === T.M && shifts.has(col)) t.data[row * t.rowLength + col] = shifts.get(col)!;
  };
  const step = buildStep(data.arch, data.weights, data.trace, c.position, c.layer, C, pin);
  return { ...data, step, stepTree: stepTree(step) };
}

/** The step-output claim our own recomputation refutes most clearly, if any. */
function startClaim(c: ChainDispute, own: DisputeData, ctxFor: (tensor: number) => JudgeContext, ownRead: (l: Loc) => Uint8Array): Claim | undefined {
  const head = c.layer === own.arch.layers + 1;
  const tensor = head ? T.ARGMAX : T.OUT;
  const n = head ? own.arch.vocab : own.arch.hidden;
  let best: Candidate | undefined;
  for (let col = 0; col < n; col++) {
    const claim = { tensor, row: 0, col };
    let v;
    try {
      v = judgeClaim(ctxFor(tensor), claim, ownRead);
    } catch (err) {
      // ARGMAX is not judged for sampled jobs or prompt positions: nothing to start from.
      if (err instanceof JudgeError) return undefined;
      throw err;
    }
    if (!v.fraud) continue;
    const ratio = v.bound > 0n ? Math.abs(toNumber(v.claimed - v.ref)) / toNumber(v.bound) : Infinity;
    if (!best || ratio > best.ratio) best = { claim, ratio };
  }
  if (best || head) return best?.claim;
  // Every element within its own bound, the whole row beyond the row bound (op 19): start there.
  const row = { tensor: T.OUT_ROW, row: 0, col: 0 };
  return judgeClaim(ctxFor(T.OUT_ROW), row, ownRead).fraud ? row : undefined;
}

/**
 * The claims to try next, best first: the step inputs of `claim`'s plan (the claim's own
 * tensor and the free shift M excluded) whose revealed value differs from ours. Tier 1
 * deviates by more than SLACK_SHARE of its own bound: more than the element's own tolerance
 * slack can explain, so it is downstream of a wrong element (or wrong itself). Tier 2 by more
 * than DEVIATION_SHARE; tier 3 by anything. Within a tier the most upstream tensor (smallest
 * §7.2 id) comes first, then the largest deviation; tier 3 keeps its FALLBACKS largest.
 */
function upstream(
  plan: Loc[],
  claim: Claim,
  own: DisputeData,
  read: (l: Loc) => Uint8Array,
  ownRead: (l: Loc) => Uint8Array,
  ctxFor: (tensor: number) => JudgeContext,
  C: number,
): Claim[] {
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const loc of plan) {
    if (loc.src !== SRC_STEP || loc.tensor === claim.tensor || loc.tensor === T.M || seen.has(locKey(loc))) continue;
    seen.add(locKey(loc));
    const bytes = read(loc);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const mine = own.step!.tensors.get(loc.tensor)!;
    const n = Math.min(C, loc.rowLen - loc.chunk * C, bytes.length / 4);
    for (let i = 0; i < n; i++) {
      const col = loc.chunk * C + i;
      const theirs = view.getFloat32(4 * i, true);
      const dev = Math.abs(theirs - valueAt(mine, loc.row, col));
      if (dev === 0) continue;
      const element = { tensor: loc.tensor, row: loc.row, col };
      let bound: number;
      try {
        bound = toNumber(judgeClaim(ctxFor(loc.tensor), element, ownRead).bound);
      } catch (err) {
        // Elements no claim may name (head-step rows other than t) carry nothing.
        if (err instanceof JudgeError) continue;
        throw err;
      }
      candidates.push({ claim: element, ratio: Number.isFinite(dev) && bound > 0 ? dev / bound : Infinity });
    }
  }
  const tier = (x: Candidate) => (x.ratio > SLACK_SHARE ? 0 : x.ratio > DEVIATION_SHARE ? 1 : 2);
  candidates.sort((a, b) => tier(a) - tier(b) || (tier(a) < 2 ? a.claim.tensor - b.claim.tensor : 0) || b.ratio - a.ratio);
  const firm = candidates.filter((x) => tier(x) < 2);
  return [...firm, ...candidates.slice(firm.length, firm.length + FALLBACKS)].map((x) => x.claim);
}

function dedupe(locs: Loc[]): Loc[] {
  const out = new Map<string, Loc>();
  for (const l of locs) if (!out.has(locKey(l))) out.set(locKey(l), l);
  return [...out.values()];
}

const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;
