/**
 * The "original generation" of a trace in a different execution setup than the step builder:
 * binary32 arithmetic (Math.fround after every operation, sequential sums, fp32 RoPE angles
 * and exp), hidden states stored in the trace dtype. Tests and the benchmark use it to produce
 * honest traces whose step recomputation (float64, chunked partials) differs by real rounding.
 */
import { rowValues, encodeTensor, type EncodedTensor } from "./tensors.js";
import { hasQkvBias, ropeBase, W } from "../evaluator/layout.js";
import type { Architecture, Encoding, Trace, Weights } from "./model.js";
import { argmax, decodeSamplingParams, sampleToken } from "../sampling/rule.js";

const fr = Math.fround;

function matvecF32(w: EncodedTensor, x: Float32Array, cache: Map<EncodedTensor, Float64Array[]>): Float32Array {
  let rows = cache.get(w);
  if (!rows) cache.set(w, (rows = []));
  const out = new Float32Array(w.rows);
  for (let r = 0; r < w.rows; r++) {
    const row = (rows[r] ??= rowValues(w, r));
    let acc = 0;
    for (let i = 0; i < row.length; i++) acc = fr(acc + fr(row[i]! * x[i]!));
    out[r] = acc;
  }
  return out;
}

function rmsnormF32(x: Float32Array, g: Float64Array, eps: number): Float32Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss = fr(ss + fr(x[i]! * x[i]!));
  const r = fr(1 / fr(Math.sqrt(fr(fr(ss / x.length) + eps))));
  return Float32Array.from(x, (v, i) => fr(fr(v * g[i]!) * r));
}

/** Logits of the last position's h[t][L] (final norm + LM head) in binary32. */
export function headLogitsF32(arch: Architecture, weights: Weights, hLast: Float64Array): Float32Array {
  const eps = new Float32Array(new Uint32Array([arch.normEpsBits]).buffer)[0]!;
  const n = rmsnormF32(Float32Array.from(hLast), rowValues(weights.get(W.FINAL_NORM)!, 0), eps);
  return matvecF32(weights.get(W.LM_HEAD)!, n, new Map());
}

/** Argmax of the binary32 logits of h[t][L], ties to the lowest id. */
export function greedyNext(arch: Architecture, weights: Weights, hLast: Float64Array): number {
  return argmax(headLogitsF32(arch, weights, hLast));
}

/**
 * A continuation under a sampling rule (PROTOCOL §4.4): `prompt` then `newTokens` tokens, each
 * drawn by `sampleToken` from the previous position's binary32 logits, with the trace of the
 * whole sequence. `samplingParams` 0n is greedy.
 */
export function generateSampled(arch: Architecture, enc: Encoding, weights: Weights, prompt: number[], newTokens: number, samplingParams: bigint): Trace {
  const params = decodeSamplingParams(samplingParams);
  const tokens = [...prompt];
  for (let i = 0; i < newTokens; i++) {
    const trace = generateTrace(arch, enc, weights, [...tokens, 0]);
    const logits = headLogitsF32(arch, weights, rowValues(trace.hidden[arch.layers]!, tokens.length - 1));
    tokens.push(sampleToken(logits, params, tokens.length));
  }
  return generateTrace(arch, enc, weights, tokens);
}

/** A greedy continuation (generateSampled with samplingParams 0). */
export function generateGreedy(arch: Architecture, enc: Encoding, weights: Weights, prompt: number[], newTokens: number): Trace {
  return generateSampled(arch, enc, weights, prompt, newTokens, 0n);
}

/** RoPE inverse frequencies in binary32: committed ones (ropeBase 0, PROTOCOL §2.1) or θ^(−2k/hd). */
export function ropeFrequencies(arch: Architecture, weights: Weights): Float32Array {
  const hd = arch.hidden / arch.heads;
  const base = ropeBase(arch.ropeTheta);
  if (base === 0) return Float32Array.from(rowValues(weights.get(W.ROPE_FREQ)!, 0));
  return Float32Array.from({ length: hd / 2 }, (_, k) => fr(1 / fr(Math.pow(base, fr((2 * k) / hd)))));
}

function addBias(v: Float32Array, bias: EncodedTensor): Float32Array {
  const b = rowValues(bias, 0);
  return Float32Array.from(v, (x, i) => fr(x + b[i]!));
}

/** Generate h[t][l] for every position and layer from the tokens, in binary32. */
export function generateTrace(arch: Architecture, enc: Encoding, weights: Weights, tokens: number[]): Trace {
  const N = tokens.length - 1;
  const { hidden: d, heads: H, kvHeads: G, ffn: f } = arch;
  const hd = d / H;
  const half = hd / 2;
  const group = H / G;
  const eps = new Float32Array(new Uint32Array([arch.normEpsBits]).buffer)[0]!;
  const cache = new Map<EncodedTensor, Float64Array[]>();
  const emb = weights.get(W.EMBED)!;
  let h: Float32Array[] = tokens.slice(0, N).map((tok) => Float32Array.from(rowValues(emb, tok)));
  const store = (rows: Float32Array[]): EncodedTensor => encodeTensor(N, d, enc.traceDtype, rows.flatMap((r) => Array.from(r)));
  const hidden: EncodedTensor[] = [store(h)];
  // The next layer consumes what the trace stores, as a real runtime does between layers.
  const stored = (t: EncodedTensor): Float32Array[] => Array.from({ length: N }, (_, p) => Float32Array.from(rowValues(t, p)));
  h = stored(hidden[0]!);
  const invFreq = ropeFrequencies(arch, weights);
  const rope = (v: Float32Array, heads: number, pos: number): Float32Array => {
    const out = new Float32Array(v.length);
    for (let hh = 0; hh < heads; hh++) {
      for (let i = 0; i < hd; i++) {
        const k = i < half ? i : i - half;
        const a = fr(pos * invFreq[k]!);
        const c = fr(Math.cos(a));
        const s = fr(Math.sin(a));
        const x = v[hh * hd + i]!;
        const y = v[hh * hd + (i < half ? i + half : i - half)]!;
        out[hh * hd + i] = i < half ? fr(fr(x * c) - fr(y * s)) : fr(fr(x * c) + fr(y * s));
      }
    }
    return out;
  };
  for (let l = 1; l <= arch.layers; l++) {
    const l8 = l << 8;
    const gA = rowValues(weights.get(l8 | W.ATTN_NORM)!, 0);
    const gM = rowValues(weights.get(l8 | W.MLP_NORM)!, 0);
    const ks: Float32Array[] = [];
    const vs: Float32Array[] = [];
    const qs: Float32Array[] = [];
    for (let p = 0; p < N; p++) {
      const n1 = rmsnormF32(h[p]!, gA, eps);
      // Projection biases (Qwen2) are added before RoPE, as in the runtime's graphs.
      const biased = (v: Float32Array, kind: number) => (hasQkvBias(arch.ropeTheta) ? addBias(v, weights.get(l8 | kind)!) : v);
      qs.push(rope(biased(matvecF32(weights.get(l8 | W.Q)!, n1, cache), W.Q_BIAS), H, p));
      ks.push(rope(biased(matvecF32(weights.get(l8 | W.K)!, n1, cache), W.K_BIAS), G, p));
      vs.push(biased(matvecF32(weights.get(l8 | W.V)!, n1, cache), W.V_BIAS));
    }
    const next: Float32Array[] = [];
    const scale = fr(1 / Math.sqrt(hd));
    for (let t = 0; t < N; t++) {
      const o = new Float32Array(H * hd);
      for (let hh = 0; hh < H; hh++) {
        const g = Math.floor(hh / group);
        const s = new Float32Array(t + 1);
        for (let p = 0; p <= t; p++) {
          let acc = 0;
          for (let i = 0; i < hd; i++) acc = fr(acc + fr(qs[t]![hh * hd + i]! * ks[p]![g * hd + i]!));
          s[p] = fr(acc * scale);
        }
        const mx = Math.max(...s);
        const e = Float32Array.from(s, (v) => fr(Math.exp(fr(v - mx))));
        let z = 0;
        for (const v of e) z = fr(z + v);
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let p = 0; p <= t; p++) acc = fr(acc + fr(e[p]! * vs[p]![g * hd + i]!));
          o[hh * hd + i] = fr(acc / z);
        }
      }
      const yo = matvecF32(weights.get(l8 | W.O)!, o, cache);
      const x1 = Float32Array.from(h[t]!, (v, i) => fr(v + yo[i]!));
      const n2 = rmsnormF32(x1, gM, eps);
      const gt = matvecF32(weights.get(l8 | W.GATE)!, n2, cache);
      const up = matvecF32(weights.get(l8 | W.UP)!, n2, cache);
      const a = Float32Array.from(gt, (g, i) => fr(fr(g / fr(1 + fr(Math.exp(-g)))) * up[i]!));
      const w2 = new Float32Array(f);
      w2.set(a);
      const yd = matvecF32(weights.get(l8 | W.DOWN)!, w2, cache);
      next.push(Float32Array.from(x1, (v, i) => fr(v + yd[i]!)));
    }
    const t = store(next);
    hidden.push(t);
    h = stored(t);
  }
  return { tokens, hidden };
}
