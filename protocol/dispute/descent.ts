/**
 * The challenger's descent without served step data (PROTOCOL §7.5): start at the step's
 * output claim that the challenger's own recomputation refutes (OUT for a block step, ARGMAX
 * of the committed next token for the head step), demand every missing chunk of that claim's
 * opening plan in one round, judge it with the revealed chunks, and if it holds, follow the
 * most upstream input (earliest in the §7.2 dependency order) whose revealed value deviates
 * from the challenger's own by more than half its tolerance bound. Every move goes to a tensor
 * of smaller id, so it ends within the §7.2 graph's depth (StepProofGame.MAX_DEMAND_ROUNDS).
 */
import type { Hex } from "viem";
import { judgeClaim, JudgeError, SRC_STEP, SRC_TRACE, type Claim, type JudgeContext, type Loc } from "../evaluator/judge.js";
import { opOf, T, TOKEN_TENSOR_ID } from "../evaluator/layout.js";
import { toNumber } from "../evaluator/fixed.js";
import { chunkReader, resolvedPlan, type DisputeData, type Opening } from "./proofs.js";
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

class MissingChunk extends DisputeDataError {
  constructor(readonly loc: Loc) {
    super(`chunk ${locKey(loc)} not available`);
  }
}

type Candidate = { claim: Claim; ratio: number };

export function descend(c: ChainDispute, disk: Disk, base: Omit<JudgeContext, "atol" | "rtol">): Move {
  const layers = disk.data.arch.layers;
  const own = honestStep(disk.data, c);
  const ownRead = chunkReader(own);
  const revealed = disk.revealed ?? new Map<string, Opening>();
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

  let claim = startClaim(c, own, ctxFor, ownRead);
  if (!claim) return waitChallenger(c, "the committed output agrees with our own recomputation");
  // Each iteration moves to a tensor of smaller id: 40 bounds every path of the §7.2 graph.
  for (let depth = 0; depth < 40; depth++) {
    const ctx = ctxFor(claim.tensor);
    const plan = resolvedPlan(ctx, disk.data, claim);
    const missing = dedupe(plan.filter((loc) => onChain(loc) && !revealed.has(locKey(loc))));
    if (missing.length > 0) {
      if (c.roundsUsed >= c.maxRounds) return waitChallenger(c, "demand rounds spent");
      const leaves = missing.slice(0, c.maxLeaves).map((l): DemandLeaf => ({ src: l.src as DemandLeaf["src"], tensor: l.tensor, row: l.row, chunk: l.chunk }));
      return { kind: "demandChunks", args: [c.id, leaves.map(toLeafArg)] };
    }
    const v = judgeClaim(ctx, claim, read);
    if (v.fraud) {
      // Revealed leaves come with the prover's proofs; the rest from our own trees.
      const openings = plan.map((loc): Opening => {
        if (onChain(loc)) return revealed.get(locKey(loc))!;
        const tree = loc.src === SRC_TRACE ? disk.data.traceTree : disk.data.weightsTree;
        return { chunk: hex(ownRead(loc)), proof: tree.proof(loc.tensor, loc.row, loc.chunk) };
      });
      return claimArgs(c, claim, openings);
    }
    const next = upstream(plan, claim, own, read, ownRead, ctxFor, disk.data.encoding.chunkSize);
    if (!next) return waitChallenger(c, "the claim holds and no input deviates from our recomputation");
    claim = next;
  }
  return waitChallenger(c, "search depth exhausted");
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
  return best?.claim;
}

/**
 * The claim to judge next: among the step inputs of `claim`'s plan (the claim's own tensor
 * and the free shift M excluded), the elements whose revealed value deviates from ours by more
 * than DEVIATION_SHARE of their own bound; of those, the most upstream tensor (smallest §7.2
 * id), and in it the largest deviation. When nothing crosses the threshold, the largest
 * deviation at all (it is still downstream of the wrong element).
 */
function upstream(
  plan: Loc[],
  claim: Claim,
  own: DisputeData,
  read: (l: Loc) => Uint8Array,
  ownRead: (l: Loc) => Uint8Array,
  ctxFor: (tensor: number) => JudgeContext,
  C: number,
): Claim | undefined {
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
  const above = candidates.filter((x) => x.ratio > DEVIATION_SHARE);
  const pool = above.length > 0 ? above.filter((x) => x.claim.tensor === Math.min(...above.map((y) => y.claim.tensor))) : candidates;
  let best: Candidate | undefined;
  for (const x of pool) if (!best || x.ratio > best.ratio) best = x;
  return best?.claim;
}

function dedupe(locs: Loc[]): Loc[] {
  const out = new Map<string, Loc>();
  for (const l of locs) if (!out.has(locKey(l))) out.set(locKey(l), l);
  return [...out.values()];
}

const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;
