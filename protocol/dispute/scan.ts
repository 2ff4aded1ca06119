/**
 * Challenger-side search (PROTOCOL §7.6 step 2): evaluate every judgeable element of a step
 * with the bit-identical TypeScript judge and return the claims the contract would accept.
 */
import { judgeClaim, type Claim, type ChunkReader, type JudgeContext, type Verdict } from "../evaluator/judge.js";
import { HEAD_TENSORS, opOf, shape, STEP_TENSORS, T, type Dims, type OpCode } from "../evaluator/layout.js";

export type Tolerances = readonly { atol: bigint; rtol: bigint }[];

/** Every claim of a block step, tensor by tensor in dataflow order (the M shift is free). */
export function* allClaims(m: Dims, layer: number, layers: number): Generator<Claim> {
  if (layer === 0) {
    for (let col = 0; col < m.d; col++) yield { tensor: T.EMBED, row: 0, col };
    return;
  }
  if (layer === layers + 1) {
    // Head step: only position t's norm is used.
    for (const tensor of [...HEAD_TENSORS, T.ARGMAX]) {
      const [rows, len] = shape(m, tensor);
      for (let row = 0; row < rows; row++) {
        if ((tensor === T.SS1_PART || tensor === T.N1) && row !== m.T - 1) continue;
        for (let col = 0; col < len; col++) if (tensor !== T.R1 || col === m.T - 1) yield { tensor, row, col };
      }
    }
    return;
  }
  for (const tensor of [...STEP_TENSORS, T.OUT, T.OUT_ROW]) {
    if (tensor === T.M) continue;
    const [rows, len] = shape(m, tensor);
    for (let row = 0; row < rows; row++) for (let col = 0; col < len; col++) yield { tensor, row, col };
  }
}

export type Finding = { claim: Claim; verdict: Verdict };

/**
 * Claims whose verdict is fraud. `limit` stops early (a challenger needs one); `ops` restricts
 * the search to some operation codes.
 */
export function findFraud(
  base: Omit<JudgeContext, "atol" | "rtol">,
  m: Dims,
  tolerances: Tolerances,
  read: ChunkReader,
  options: { limit?: number; ops?: readonly OpCode[] } = {},
): Finding[] {
  const found: Finding[] = [];
  for (const claim of allClaims(m, base.layer, base.layers)) {
    const op = opOf(claim.tensor, base.layer, base.layers);
    if (options.ops && !options.ops.includes(op)) continue;
    // A prompt token (t + 1 < inputTokens) was given, not chosen: its ARGMAX claims are invalid.
    if (claim.tensor === T.ARGMAX && base.position + 1 < base.inputTokens) continue;
    const verdict = judgeClaim({ ...base, ...tolerances[op]! }, claim, read);
    if (verdict.fraud) {
      found.push({ claim, verdict });
      if (options.limit !== undefined && found.length >= options.limit) break;
    }
  }
  return found;
}
