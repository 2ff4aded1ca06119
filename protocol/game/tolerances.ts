import { Op, OP_COUNT } from "../evaluator/layout.js";
import type { OpTolerance } from "../chain/actions/registerModel.js";

/** Q32.32 fixed point of a real tolerance (PROTOCOL §6.1), rounded up so it never tightens. */
export const q32 = (x: number): bigint => BigInt(Math.ceil(x * 2 ** 32));

/** A real-valued tolerance pair before conversion to Q32.32. */
export type RealTolerance = { atol: number; rtol: number };

/**
 * Row bound of LAYER_OUT_ROW (PROTOCOL §6.5): the squared L2 error of a whole row h[t][l]
 * against X1 + Y_D may be at most (2^-9)² of its squared magnitude (plus 2^-20 absolute) —
 * a relative L2 drift of 2^-9 ≈ 1.95e-3, 5.6× the worst honest whole-layer drift measured
 * between fp16 and fp32 setups (relL2 3.5e-4, §4.6), and below the 3.6e-3 that moving every
 * element by 0.7 of its per-element LAYER_OUT bound produces (3.4–3.7e-3 measured on the dispute fixture).
 */
export const DEFAULT_LAYER_OUT_ROW: RealTolerance = { atol: 2 ** -20, rtol: 2 ** -18 };

/**
 * Registration tolerances recommended by PROTOCOL §6.5: exact embedding, fp32-recomputation
 * bounds for the in-step operations, and LAYER_OUT / LAYER_OUT_ROW / HEAD_ARGMAX bounds that
 * must cover the whole-layer drift between the generating setup and the exact recomputation
 * (measure it per model; at least 4x the largest observed deviation). HEAD_ARGMAX carries the
 * same drift as LAYER_OUT: the runtime chose the token from its own logits.
 */
export function recommendedTolerances(layerOut: RealTolerance, layerOutRow: RealTolerance = DEFAULT_LAYER_OUT_ROW): OpTolerance[] {
  const tol: OpTolerance[] = Array.from({ length: OP_COUNT }, () => ({ atol: 4n, rtol: 1n << 16n }));
  tol[Op.EMBED] = { atol: 0n, rtol: 0n };
  tol[Op.LAYER_OUT] = { atol: q32(layerOut.atol), rtol: q32(layerOut.rtol) };
  tol[Op.HEAD_ARGMAX] = { atol: q32(layerOut.atol), rtol: q32(layerOut.rtol) };
  tol[Op.LAYER_OUT_ROW] = { atol: q32(layerOutRow.atol), rtol: q32(layerOutRow.rtol) };
  return tol;
}
