/**
 * How the adversary builds its commitments: whole step roots chosen to pass element checks
 * (softmax shift, row slack), one inconsistency hidden anywhere in a step with everything
 * downstream recomputed consistently (deep hiding), and the wrong trace output each implies.
 * Also the verifier's side: where an honest recomputation finds a provable claim.
 */
import { judgeClaim, JudgeError, type Claim } from "../../protocol/evaluator/judge.js";
import { opOf, shape, T } from "../../protocol/evaluator/layout.js";
import { buildStep, type StepTamper } from "../../protocol/dispute/step.js";
import { chunkReader, judgeContext, stepTree, type DisputeData, type JobTerms } from "../../protocol/dispute/proofs.js";
import { findFraud } from "../../protocol/dispute/scan.js";
import { traceTree } from "../../protocol/dispute/model.js";
import { generateTrace } from "../../protocol/dispute/forward.js";
import { halfToNumber, toHalfBits, valueAt } from "../../protocol/dispute/tensors.js";
import { TOLERANCES } from "./env.js";

/** The prover's view (its step for the disputed step) and what it committed on-chain. */
export type Cheat = { committed: DisputeData; prover: DisputeData };

const withStep = (data: DisputeData, t: number, l: number, tamper?: StepTamper): DisputeData => {
  const step = buildStep(data.arch, data.weights, data.trace, t, l, data.encoding.chunkSize, tamper);
  return { ...data, step, stepTree: stepTree(step) };
};

export const judgeWith = (data: DisputeData, t: number, l: number, claim: Claim, job?: JobTerms) =>
  judgeClaim(judgeContext(data, t, l, TOLERANCES[opOf(claim.tensor, l, data.arch.layers)]!, job), claim, chunkReader(data));

/** The trace with h[t][l] replaced by `row` (binary16), its tree rebuilt. */
export function withOutputRow(data: DisputeData, t: number, l: number, row: (i: number) => number): DisputeData | undefined {
  const hidden = data.trace.hidden.slice();
  const h = hidden[l]!;
  const values = h.data.slice();
  for (let i = 0; i < data.arch.hidden; i++) {
    const v = row(i);
    if (!(Math.abs(v) < 60_000)) return undefined;
    values[t * h.rowLength + i] = toHalfBits(v);
  }
  hidden[l] = { ...h, data: values };
  const trace = { ...data.trace, hidden };
  return { ...data, trace, traceTree: traceTree(trace, data.encoding.chunkSize) };
}

/** The demo's corruption: element `i` of h[t][l] moved by `delta` in the committed trace. */
export function bumpElement(base: DisputeData, t: number, l: number, i: number, delta: number): DisputeData {
  const h = base.trace.hidden[l]!;
  return withOutputRow(base, t, l, (j) => halfToNumber(h.data[t * h.rowLength + j]!) + (j === i ? delta : 0))!;
}

/**
 * A block step computed with `tamper`, and the trace committing the output that step implies
 * (X1 + Y_D): every element check of the step passes except where `tamper` broke one.
 */
export function commitTampered(base: DisputeData, t: number, l: number, tamper: StepTamper): Cheat | undefined {
  const first = withStep(base, t, l, tamper).step!;
  const x1 = first.tensors.get(T.X1)!;
  const yd = first.tensors.get(T.Y_D)!;
  const committed = withOutputRow(base, t, l, (i) => valueAt(x1, 0, i) + valueAt(yd, 0, i));
  if (!committed) return undefined;
  // Rebuilt on the committed trace, so the row-error partials match the committed output too.
  return { committed, prover: withStep(committed, t, l, tamper) };
}

/** The softmax-shift attack: M = max S + 64 and attention weights of the cheater's choosing. */
export function softmaxShift(base: DisputeData, t: number, l: number, weights: "first-position" | "uniform"): Cheat | undefined {
  const tamper: StepTamper = (id, tensor, row, col) => {
    const i = row * tensor.rowLength + col;
    if (id === T.M) tensor.data[i] = tensor.data[i]! + 64;
    if (id === T.E) tensor.data[i] = weights === "uniform" || col === 0 ? 2 ** -31 : 2 ** -40;
  };
  return commitTampered(base, t, l, tamper);
}

/**
 * Row slack: every output element moved by `share` of its own LAYER_OUT bound in alternating
 * directions, the row-error partials understated to zero so the cheater's OUT_ROW passes.
 */
export function rowSlack(base: DisputeData, t: number, l: number, share = 0.7): Cheat | undefined {
  const own = withStep(base, t, l).step!;
  const tol = TOLERANCES[opOf(T.OUT, l, base.arch.layers)]!;
  const committed = withOutputRow(base, t, l, (i) => {
    const a = valueAt(own.tensors.get(T.X1)!, 0, i);
    const b = valueAt(own.tensors.get(T.Y_D)!, 0, i);
    const bound = Number(tol.atol) / 2 ** 32 + (Number(tol.rtol) / 2 ** 32) * (Math.abs(a) + Math.abs(b));
    return a + b + (i % 2 === 0 ? share : -share) * bound;
  });
  if (!committed) return undefined;
  const understate: StepTamper = (id, tensor, row, col) => {
    if (id === T.OUT_ERR_PART && row === 0) tensor.data[row * tensor.rowLength + col] = 0;
  };
  return { committed, prover: withStep(committed, t, l, understate) };
}

/**
 * Deep hiding: one element of `tensor` perturbed (searching elements and magnitudes) so that
 * the step's single inconsistency is that element while the committed output (block steps) or
 * next token (head step) is refuted by an honest recomputation.
 */
export function deepHiding(base: DisputeData, t: number, l: number, tensor: number, job: JobTerms): (Cheat & { element: Claim }) | undefined {
  const head = l === base.arch.layers + 1;
  const own = withStep(base, t, l).step!;
  const [rows, len] = shape(own.dims, tensor);
  const candidates: Claim[] = [
    { tensor, row: head && (tensor === T.SS1_PART || tensor === T.N1) ? t : rows - 1, col: head && tensor === T.R1 ? t : len - 1 },
    { tensor, row: head && (tensor === T.SS1_PART || tensor === T.N1) ? t : 0, col: head && tensor === T.R1 ? t : 0 },
  ];
  for (const element of candidates) {
    const v = valueAt(own.tensors.get(tensor)!, element.row, element.col);
    for (let k = 0; k <= 40; k += 2) {
      for (const sign of [1, -1]) {
        const tamper: StepTamper = (id, tt, row, col) => {
          if (id === tensor && row === element.row && col === element.col) tt.data[row * tt.rowLength + col] = v + sign * (Math.abs(v) + 1) * 2 ** k;
        };
        const cheat = head ? commitHeadToken(base, t, tamper, job) : commitTampered(base, t, l, tamper);
        if (!cheat) continue;
        try {
          if (!judgeWith(cheat.prover, t, l, element, job).fraud) continue;
        } catch (err) {
          if (err instanceof JudgeError) continue;
          throw err;
        }
        if (provableStep(cheat.committed, t, l, job)) return { ...cheat, element };
      }
    }
  }
  return undefined;
}

/** Head step: a next token the tampered logits admit (no ARGMAX claim beats it) and honest ones refute. */
function commitHeadToken(base: DisputeData, t: number, tamper: StepTamper, job: JobTerms): Cheat | undefined {
  const L1 = base.arch.layers + 1;
  const step = buildStep(base.arch, base.weights, base.trace, t, L1, base.encoding.chunkSize, tamper);
  const logits = step.tensors.get(T.LOGIT)!;
  const order = Array.from({ length: base.arch.vocab }, (_, j) => j).sort((a, b) => valueAt(logits, 0, b) - valueAt(logits, 0, a) || a - b);
  for (const tok of order.slice(0, 4)) {
    if (tok === base.trace.tokens[t + 1]) continue;
    const tokens = base.trace.tokens.slice();
    tokens[t + 1] = tok;
    // Teacher-forced: the trace is recomputed over the chosen token, so every block and
    // embedding step is correct and the head step's choice is the only wrong one.
    const trace = generateTrace(base.arch, base.encoding, base.weights, tokens);
    const committed: DisputeData = { ...base, trace, traceTree: traceTree(trace, base.encoding.chunkSize) };
    const prover: DisputeData = { ...committed, step, stepTree: stepTree(step) };
    if (order.every((j) => !judgeWith(prover, t, L1, { tensor: T.ARGMAX, row: 0, col: j }, job).fraud)) return { committed, prover };
  }
  return undefined;
}

/** Whether an honest recomputation of step (t, l) over `committed` finds a provable claim (the verifier's assessment, §8 step 4). */
export function provableStep(committed: DisputeData, t: number, l: number, job: JobTerms): boolean {
  const data = l === 0 ? committed : withStep(committed, t, l);
  const m = data.step?.dims ?? ({ d: committed.arch.hidden } as never);
  return findFraud(judgeContext(data, t, l, { atol: 0n, rtol: 0n }, job), m, TOLERANCES, chunkReader(data), { limit: 1 }).length > 0;
}

/** The first step an honest verifier can prove wrong: layers 0..L+1 at every position. */
export function locate(committed: DisputeData, job: JobTerms): { position: number; layer: number } | undefined {
  const N = committed.trace.tokens.length;
  for (let layer = 0; layer <= committed.arch.layers + 1; layer++) {
    for (let position = 0; position <= N - 2; position++) {
      if (layer === committed.arch.layers + 1 && position + 1 < job.inputTokens) continue;
      if (provableStep(committed, position, layer, job)) return { position, layer };
    }
  }
  return undefined;
}
