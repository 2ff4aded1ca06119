import { Op, OP_COUNT } from "../evaluator/layout.js";
import type { OpTolerance } from "../chain/actions/registerModel.js";

/** Q32.32 fixed point of a real tolerance (PROTOCOL §6.1), rounded up so it never tightens. */
export const q32 = (x: number): bigint => BigInt(Math.ceil(x * 2 ** 32));

/**
 * Registration tolerances recommended by PROTOCOL §6.5: exact embedding, fp32-recomputation
 * bounds for the in-step operations, and a LAYER_OUT bound that must cover the whole-layer
 * drift between the generating setup and the step recomputation (measure it per model; at
 * least 4x the largest observed relative deviation).
 */
export function recommendedTolerances(layerOut: { atol: number; rtol: number }): OpTolerance[] {
  const tol: OpTolerance[] = Array.from({ length: OP_COUNT }, () => ({ atol: 4n, rtol: 1n << 16n }));
  tol[Op.EMBED] = { atol: 0n, rtol: 0n };
  tol[Op.LAYER_OUT] = { atol: q32(layerOut.atol), rtol: q32(layerOut.rtol) };
  return tol;
}
