/** Shared tiny model, honest trace and step for the dispute tests. */
import { Op, OP_COUNT } from "../../protocol/evaluator/layout.js";
import { buildStep } from "../../protocol/dispute/step.js";
import { stepTree, type DisputeData } from "../../protocol/dispute/proofs.js";
import { traceTree, weightsTree, type Architecture, type Encoding } from "../../protocol/dispute/model.js";
import { f32Bits, syntheticTokens, syntheticWeights } from "../../protocol/dispute/synthetic.js";
import { generateGreedy } from "../../protocol/dispute/forward.js";

/** d 32, 4/2 heads × 8, ffn 48, C 4: every reduction spans several chunks, partial rows too. */
export const TINY: Architecture = {
  layers: 2,
  hidden: 32,
  heads: 4,
  kvHeads: 2,
  ffn: 48,
  vocab: 40,
  context: 64,
  normEpsBits: f32Bits(1e-5),
  ropeTheta: 10000,
};
export const TINY_ENC: Encoding = { traceDtype: 1, weightsDtype: 1, chunkSize: 4 };

/** Q32.32 tolerances (PROTOCOL §6.5 calibration for this fixture). */
export function tolerances(): { atol: bigint; rtol: bigint }[] {
  const tol = Array.from({ length: OP_COUNT }, () => ({ atol: 4n, rtol: 1n << 16n }));
  tol[Op.EMBED] = { atol: 0n, rtol: 0n };
  tol[Op.LAYER_OUT] = { atol: 1n << 22n, rtol: 1n << 24n };
  // HEAD_ARGMAX keeps what production registers (protocol/game/tolerances.ts): atol 2^-30, rtol 2^-16.
  return tol;
}

export function tinyData(opts: { tokens?: number; seed?: number; arch?: Architecture; enc?: Encoding } = {}): DisputeData {
  const arch = opts.arch ?? TINY;
  const encoding = opts.enc ?? TINY_ENC;
  const seed = opts.seed ?? 1;
  const weights = syntheticWeights(arch, encoding, seed);
  // One prompt token, then a greedy continuation: the job's inputTokens is 1 (chain.ts).
  const trace = generateGreedy(arch, encoding, weights, syntheticTokens(1, arch.vocab, seed + 1), (opts.tokens ?? 7) - 1);
  return {
    arch,
    encoding,
    weights,
    weightsTree: weightsTree(weights, encoding.chunkSize),
    trace,
    traceTree: traceTree(trace, encoding.chunkSize),
  };
}

export function withStep(data: DisputeData, position: number, layer: number): DisputeData {
  const step = buildStep(data.arch, data.weights, data.trace, position, layer, data.encoding.chunkSize);
  return { ...data, step, stepTree: stepTree(step) };
}
