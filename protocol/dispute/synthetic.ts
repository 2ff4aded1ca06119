/**
 * Seeded synthetic Llama-family models (random weights of the real shapes, PROTOCOL §3.5) for
 * tests and the benchmark, where no real checkpoint is needed.
 */
import { hasQkvBias, ropeBase, W } from "../evaluator/layout.js";
import { encodeTensor, type EncodedTensor } from "./tensors.js";
import type { Architecture, Encoding, Weights } from "./model.js";

/** mulberry32: small, fast, seedable; quality is ample for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

const f32 = new Float32Array(1);
/** binary32 bits of a number (for normEpsBits). */
export function f32Bits(v: number): number {
  f32[0] = v;
  return new Uint32Array(f32.buffer)[0]!;
}

export function syntheticWeights(arch: Architecture, enc: Encoding, seed: number): Weights {
  const g = gaussian(rng(seed));
  const { hidden: d, heads: H, kvHeads: G, ffn: f, vocab } = arch;
  const hd = d / H;
  const mat = (rows: number, cols: number, scale: number): EncodedTensor =>
    encodeTensor(rows, cols, enc.weightsDtype, Array.from({ length: rows * cols }, () => g() * scale));
  const gain = (): EncodedTensor => encodeTensor(1, d, enc.weightsDtype, Array.from({ length: d }, () => 1 + 0.1 * g()));
  const w: Weights = new Map();
  w.set(W.EMBED, mat(vocab, d, 1));
  w.set(W.FINAL_NORM, gain());
  w.set(W.LM_HEAD, mat(vocab, d, 1 / Math.sqrt(d)));
  // Committed RoPE frequencies (binary32): 10,000^(−2k/hd), the low ones slowed down as a
  // scaled RoPE (Llama-3.1) does.
  if (ropeBase(arch.ropeTheta) === 0) w.set(W.ROPE_FREQ, encodeTensor(1, hd / 2, 2, Array.from({ length: hd / 2 }, (_, k) => 10000 ** ((-2 * k) / hd) / (k < hd / 4 ? 1 : 8))));
  for (let l = 1; l <= arch.layers; l++) {
    const l8 = l << 8;
    w.set(l8 | W.ATTN_NORM, gain());
    w.set(l8 | W.Q, mat(H * hd, d, 1 / Math.sqrt(d)));
    w.set(l8 | W.K, mat(G * hd, d, 1 / Math.sqrt(d)));
    w.set(l8 | W.V, mat(G * hd, d, 1 / Math.sqrt(d)));
    w.set(l8 | W.O, mat(d, H * hd, 1 / Math.sqrt(H * hd)));
    w.set(l8 | W.MLP_NORM, gain());
    w.set(l8 | W.GATE, mat(f, d, 1 / Math.sqrt(d)));
    w.set(l8 | W.UP, mat(f, d, 1 / Math.sqrt(d)));
    w.set(l8 | W.DOWN, mat(d, f, 1 / Math.sqrt(f)));
    if (hasQkvBias(arch.ropeTheta)) {
      w.set(l8 | W.Q_BIAS, mat(1, H * hd, 0.5));
      w.set(l8 | W.K_BIAS, mat(1, G * hd, 0.5));
      w.set(l8 | W.V_BIAS, mat(1, G * hd, 0.5));
    }
  }
  return w;
}

export function syntheticTokens(n: number, vocab: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}
