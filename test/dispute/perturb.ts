/** Tamper with one committed element (a dishonest prover) and rebuild the affected tree. */
import { judgeClaim, SRC_STEP, SRC_TRACE, type Claim } from "../../protocol/evaluator/judge.js";
import { opOf, T } from "../../protocol/evaluator/layout.js";
import { toNumber } from "../../protocol/evaluator/fixed.js";
import { chunkReader, judgeContext, resolvedPlan, stepTree, type DisputeData } from "../../protocol/dispute/proofs.js";
import { traceTree } from "../../protocol/dispute/model.js";
import { toHalfBits, valueAt, type EncodedTensor } from "../../protocol/dispute/tensors.js";
import { tolerances } from "./fixture.js";

function withValue(t: EncodedTensor, row: number, col: number, value: number): EncodedTensor {
  const data = t.data.slice();
  data[row * t.rowLength + col] = t.dtype === 1 ? toHalfBits(value) : value;
  return { ...t, data };
}

/** The claimed element's tensor, row, col in its own store (trace for OUT/EMBED). */
export function perturb(data: DisputeData, position: number, layer: number, claim: Claim, delta: number): DisputeData {
  const ctx = judgeContext(data, position, layer, tolerances()[opOf(claim.tensor, layer, data.arch.layers)]!);
  const loc = resolvedPlan(ctx, data, claim)[0]!;
  if (loc.src === SRC_TRACE) {
    const hidden = data.trace.hidden.slice();
    const h = hidden[loc.tensor]!;
    hidden[loc.tensor] = withValue(h, loc.row, claim.col, valueAt(h, loc.row, claim.col) + delta);
    const trace = { ...data.trace, hidden };
    return { ...data, trace, traceTree: traceTree(trace, data.encoding.chunkSize) };
  }
  if (loc.src !== SRC_STEP || !data.step) throw new Error("only trace and step elements are perturbed");
  const tensors = new Map(data.step.tensors);
  // The claimed element's own tensor (LOGIT for an ARGMAX claim).
  const t = tensors.get(loc.tensor)!;
  tensors.set(loc.tensor, withValue(t, loc.row, claim.col, valueAt(t, loc.row, claim.col) + delta));
  const step = { ...data.step, tensors };
  return { ...data, step, stepTree: stepTree(step) };
}

/** The honest verdict of `claim` (its bound and claimed value in Q48). */
export function verdictOf(data: DisputeData, position: number, layer: number, claim: Claim) {
  const ctx = judgeContext(data, position, layer, tolerances()[opOf(claim.tensor, layer, data.arch.layers)]!);
  return judgeClaim(ctx, claim, chunkReader(data));
}

export const q48 = toNumber;
export { T };
