import { readFileSync } from "node:fs";

/**
 * An independent reference for llama2.c checkpoints, written for the tests from run.c's
 * description and sharing no code with runtime/: it reads model.bin itself, keeps Meta's
 * interleaved RoPE layout (no Q/K permutation), and runs a plain forward pass with a KV cache —
 * float32 weights and activations (Float32Array), each dot product accumulated in float64.
 *
 * `halfWeights` rounds every weight to binary16 first and `halfBoundaries` rounds the residual
 * stream to binary16 after every layer (what the runtime's packages store and commit), so a
 * test can tell which of the two precision choices explains a difference.
 */
export type ReferenceOptions = { halfWeights?: boolean; halfBoundaries?: boolean };

/** Round to the nearest binary16 value (ties to even), returned as a number. */
function roundHalf(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const ulp = 2 ** (e - 10);
  let q = a / ulp;
  const fl = Math.floor(q);
  const rest = q - fl;
  q = rest > 0.5 || (rest === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  return Math.sign(x) * q * ulp;
}

export class Llama2cReference {
  readonly dim: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly seqLen: number;
  readonly #w: Record<string, Float32Array> = {};
  readonly #halfBoundaries: boolean;

  constructor(file: string, options: ReferenceOptions = {}) {
    const bytes = readFileSync(file);
    const buf = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(buf).set(bytes);
    const h = new Int32Array(buf, 0, 7);
    [this.dim, this.hidden, this.layers, this.heads, this.kvHeads] = [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!];
    this.vocab = Math.abs(h[5]!);
    this.seqLen = h[6]!;
    const shared = h[5]! > 0;
    const hs = this.dim / this.heads;
    const kvDim = this.kvHeads * hs;
    const L = this.layers;
    let at = 28;
    const take = (name: string, n: number) => {
      const t = new Float32Array(buf, at, n);
      this.#w[name] = options.halfWeights ? t.map(roundHalf) : t;
      at += n * 4;
    };
    take("emb", this.vocab * this.dim);
    take("rms_att", L * this.dim);
    take("wq", L * this.dim * this.dim);
    take("wk", L * kvDim * this.dim);
    take("wv", L * kvDim * this.dim);
    take("wo", L * this.dim * this.dim);
    take("rms_ffn", L * this.dim);
    take("w1", L * this.hidden * this.dim);
    take("w2", L * this.dim * this.hidden);
    take("w3", L * this.hidden * this.dim);
    take("rms_final", this.dim);
    at += this.seqLen * hs * 4; // freq_cis_real, freq_cis_imag: recomputed below as run.c does
    if (shared) this.#w["wcls"] = this.#w["emb"]!;
    else take("wcls", this.vocab * this.dim);
    if (at !== bytes.byteLength) throw new Error(`checkpoint size ${bytes.byteLength} ≠ ${at}`);
    this.#halfBoundaries = options.halfBoundaries ?? false;
  }

  /** out[r] = Σ_i W[offset + r·n + i] · x[i] for r < d (W row-major [d, n], as run.c's matmul). */
  #matmul(out: Float32Array, x: Float32Array, name: string, offset: number, n: number, d: number): void {
    const w = this.#w[name]!;
    for (let r = 0; r < d; r++) {
      let s = 0;
      const base = offset + r * n;
      for (let i = 0; i < n; i++) s += w[base + i]! * x[i]!;
      out[r] = s;
    }
  }

  #rmsnorm(out: Float32Array, x: Float32Array, name: string, offset: number): void {
    const g = this.#w[name]!;
    let ss = 0;
    for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
    const inv = 1 / Math.sqrt(ss / x.length + 1e-5);
    for (let i = 0; i < x.length; i++) out[i] = g[offset + i]! * (inv * x[i]!);
  }

  /**
   * Logits after each token of `tokens` (teacher forcing), or greedy continuation: with
   * `generate` > 0, the argmax of the last logits is appended and fed back `generate` times.
   * Returns the argmax and the top-two margin of the logits at each position, and the logits.
   */
  run(tokens: readonly number[], generate = 0): { tokens: number[]; argmax: number[]; margin: number[]; logits: Float32Array[] } {
    const { dim, hidden, layers, heads, kvHeads } = this;
    const hs = dim / heads;
    const kvDim = kvHeads * hs;
    const G = heads / kvHeads;
    const total = tokens.length + generate;
    const keyCache = Array.from({ length: layers }, () => new Float32Array(total * kvDim));
    const valueCache = Array.from({ length: layers }, () => new Float32Array(total * kvDim));
    const x = new Float32Array(dim);
    const xb = new Float32Array(dim);
    const xb2 = new Float32Array(dim);
    const q = new Float32Array(dim);
    const k = new Float32Array(kvDim);
    const v = new Float32Array(kvDim);
    const hb = new Float32Array(hidden);
    const hb2 = new Float32Array(hidden);
    const logits = new Float32Array(this.vocab);
    const seq = [...tokens];
    const argmax: number[] = [];
    const margin: number[] = [];
    const all: Float32Array[] = [];
    for (let pos = 0; pos < seq.length; pos++) {
      x.set(this.#w["emb"]!.subarray(seq[pos]! * dim, (seq[pos]! + 1) * dim));
      if (this.#halfBoundaries) for (let i = 0; i < dim; i++) x[i] = roundHalf(x[i]!);
      for (let l = 0; l < layers; l++) {
        this.#rmsnorm(xb, x, "rms_att", l * dim);
        this.#matmul(q, xb, "wq", l * dim * dim, dim, dim);
        this.#matmul(k, xb, "wk", l * kvDim * dim, dim, kvDim);
        this.#matmul(v, xb, "wv", l * kvDim * dim, dim, kvDim);
        // RoPE on interleaved pairs (i, i+1), frequency by the pair's place in its head.
        for (let i = 0; i < dim; i += 2) {
          const freq = 1 / 10000 ** ((i % hs) / hs);
          const angle = pos * freq;
          const [c, s] = [Math.cos(angle), Math.sin(angle)];
          for (const vec of i < kvDim ? [q, k] : [q]) {
            const [v0, v1] = [vec[i]!, vec[i + 1]!];
            vec[i] = v0 * c - v1 * s;
            vec[i + 1] = v0 * s + v1 * c;
          }
        }
        keyCache[l]!.set(k, pos * kvDim);
        valueCache[l]!.set(v, pos * kvDim);
        for (let h = 0; h < heads; h++) {
          const kvh = Math.floor(h / G);
          const att = new Float64Array(pos + 1);
          let max = -Infinity;
          for (let t = 0; t <= pos; t++) {
            let s = 0;
            for (let i = 0; i < hs; i++) s += q[h * hs + i]! * keyCache[l]![t * kvDim + kvh * hs + i]!;
            att[t] = s / Math.sqrt(hs);
            max = Math.max(max, att[t]!);
          }
          let sum = 0;
          for (let t = 0; t <= pos; t++) sum += att[t] = Math.exp(att[t]! - max);
          for (let i = 0; i < hs; i++) {
            let o = 0;
            for (let t = 0; t <= pos; t++) o += (att[t]! / sum) * valueCache[l]![t * kvDim + kvh * hs + i]!;
            xb[h * hs + i] = o;
          }
        }
        this.#matmul(xb2, xb, "wo", l * dim * dim, dim, dim);
        for (let i = 0; i < dim; i++) x[i] = x[i]! + xb2[i]!;
        this.#rmsnorm(xb, x, "rms_ffn", l * dim);
        this.#matmul(hb, xb, "w1", l * hidden * dim, dim, hidden);
        this.#matmul(hb2, xb, "w3", l * hidden * dim, dim, hidden);
        for (let i = 0; i < hidden; i++) hb[i] = (hb[i]! / (1 + Math.exp(-hb[i]!))) * hb2[i]!;
        this.#matmul(xb, hb, "w2", l * dim * hidden, hidden, dim);
        for (let i = 0; i < dim; i++) x[i] = x[i]! + xb[i]!;
        if (this.#halfBoundaries) for (let i = 0; i < dim; i++) x[i] = roundHalf(x[i]!);
      }
      this.#rmsnorm(xb, x, "rms_final", 0);
      this.#matmul(logits, xb, "wcls", 0, dim, this.vocab);
      let best = 0;
      let second = -Infinity;
      for (let i = 1; i < logits.length; i++) {
        if (logits[i]! > logits[best]!) {
          second = logits[best]!;
          best = i;
        } else if (logits[i]! > second) second = logits[i]!;
      }
      argmax.push(best);
      margin.push(logits[best]! - second);
      all.push(logits.slice());
      if (pos === seq.length - 1 && seq.length < total) seq.push(best);
    }
    return { tokens: seq, argmax, margin, logits: all };
  }
}
