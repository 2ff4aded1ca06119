/**
 * Which claims of a real-model step to judge, for tests that check many steps: every claim whose
 * honest slack depends on the runtime that generated the trace, and a sample of the rest.
 *
 * Ops 1–15 and 18 of an honest step are computed by the step builder in float64 from the
 * committed (binary32) values of their own inputs, so their only deviation from the judge's
 * exact value is binary32 storage (2^-24 relative against a 2^-16 tolerance, PROTOCOL §6.5):
 * the model cannot change that, and a few random elements per tensor per step check it. What
 * the model and the generating setup decide are EMBED (the trace's layer 0), LAYER_OUT and
 * LAYER_OUT_ROW (the trace's output against the exact recomputation) and HEAD_ARGMAX (the
 * runtime's choice against the exact logits): those are judged for every element.
 *
 * HEAD_ARGMAX for id j is fraud only if score[j] − score[tok] exceeds a positive bound, so ids
 * scoring below the committed token cannot be fraud: for greedy jobs the scores are the
 * committed binary32 logits (exactly the judge's values); for sampled jobs the float64 Gumbel
 * noise is within 2^-46·τ of the judge's (§4.4), so ids more than 1e-6 below are skipped.
 */
import type { Claim } from "../../protocol/evaluator/judge.js";
import { HEAD_TENSORS, shape, STEP_TENSORS, T, type Dims } from "../../protocol/evaluator/layout.js";
import type { StepData } from "../../protocol/dispute/step.js";
import { decodeSamplingParams, gumbelF64, noiseWord, samplingRule } from "../../protocol/sampling/rule.js";
import { createKeccak256 } from "../../runtime/commit/keccak-wasm.js";
import type { Xoshiro128 } from "../../runtime/model/prng.js";

const keccak = createKeccak256();

/** Every element of a tensor. */
function* all(m: Dims, tensor: number): Generator<Claim> {
  const [rows, len] = shape(m, tensor);
  for (let row = 0; row < rows; row++) for (let col = 0; col < len; col++) yield { tensor, row, col };
}

/** `n` random elements of a tensor. */
function* sample(m: Dims, tensor: number, n: number, rng: Xoshiro128): Generator<Claim> {
  const [rows, len] = shape(m, tensor);
  for (let i = 0; i < n; i++) yield { tensor, row: rng.nextUint32() % rows, col: rng.nextUint32() % len };
}

/** Claims of a block step: LAYER_OUT, its row bound and partials in full; `perTensor` of each other tensor. */
export function* blockClaims(m: Dims, rng: Xoshiro128, perTensor: number): Generator<Claim> {
  yield* all(m, T.OUT);
  yield* all(m, T.OUT_ROW);
  yield* all(m, T.OUT_ERR_PART);
  for (const tensor of STEP_TENSORS) if (tensor !== T.M && tensor !== T.OUT_ERR_PART) yield* sample(m, tensor, perTensor, rng);
}

/** Claims of a head step: HEAD_ARGMAX for every id that could beat the committed token; `perTensor` of the rest. */
export function* headClaims(m: Dims, step: StepData, token: number, position: number, samplingParams: bigint, rng: Xoshiro128, perTensor: number): Generator<Claim> {
  const logits = step.tensors.get(T.LOGIT)!.data;
  const rule = samplingRule(decodeSamplingParams(samplingParams));
  const scores = Float64Array.from({ length: m.vocab }, (_, v) => (rule.kind === "gumbel" ? logits[v]! + rule.temperature * gumbelF64(Number(noiseWord(rule.seed, position + 1, v, keccak))) : logits[v]!));
  const score = (v: number) => scores[v]!;
  const mine = score(token);
  // The runner-up always (its margin is what an honest prover keeps), and any id that may beat the token.
  let runnerUp = token === 0 ? 1 : 0;
  for (let j = 0; j < m.vocab; j++) {
    if (j === token) continue;
    const s = score(j);
    if (s > score(runnerUp)) runnerUp = j;
    if (s > mine - 1e-6) yield { tensor: T.ARGMAX, row: 0, col: j };
  }
  if (score(runnerUp) <= mine - 1e-6) yield { tensor: T.ARGMAX, row: 0, col: runnerUp };
  for (const tensor of HEAD_TENSORS) {
    // Only position t's norm row is part of the head step.
    for (const c of sample(m, tensor, perTensor, rng)) {
      if (tensor === T.SS1_PART || tensor === T.N1) yield { ...c, row: position };
      else if (tensor === T.R1) yield { ...c, col: position };
      else yield c;
    }
  }
}
