/**
 * Honest step intermediates, PROTOCOL §7.2: every tensor of step (t, l) computed from the
 * trace's h[0..t][l-1] and the weights. Each value is computed in float64 from the *committed*
 * (binary32-rounded) values of its inputs and then rounded to binary32, so every element check
 * sees only its own op's rounding, never an upstream one; only LAYER_OUT compares with the
 * originally generated trace. Softmax uses the row maximum as its shift.
 */
import { ceilDiv, dimsOf, hasQkvBias, HEAD_TENSORS, ropeBase, shape, STEP_TENSORS, T, W, type Dims } from "../evaluator/layout.js";
import { halfToNumber, rowValues, type EncodedTensor } from "./tensors.js";
import { DisputeDataError, type Architecture, type Trace, type Weights } from "./model.js";

/**
 * Test hook of a dishonest builder: called right after each element of `tensor` (step id
 * `tensorId`) is computed at (row, col) and before anything downstream reads it, so whatever
 * it writes there is what the rest of the step is computed from.
 */
export type StepTamper = (tensorId: number, tensor: EncodedTensor, row: number, col: number) => void;

export type StepData = {
  position: number;
  layer: number;
  dims: Dims;
  /** step tensor id → binary32 tensor with the layout's shape */
  tensors: Map<number, EncodedTensor>;
};

const f32bits = new Float32Array(1);
const epsOf = (bits: number): number => {
  new Uint32Array(f32bits.buffer)[0] = bits;
  return f32bits[0]!;
};

function weight(weights: Weights, id: number): EncodedTensor {
  const w = weights.get(id);
  if (!w) throw new DisputeDataError(`weights tensor ${id} missing`);
  return w;
}

/** Row `r` of a weight tensor as numbers (cached per tensor by the caller when hot). */
function wrow(w: EncodedTensor, r: number): Float64Array {
  return rowValues(w, r);
}

/**
 * Head step (layer L + 1, PROTOCOL §7.1): final norm of h[t][L] (SS1_PART row t, R1 col t,
 * N1 row t with the final norm gain), LM-head partials and logits. Other rows stay zero and
 * are never judged.
 */
function buildHeadStep(arch: Architecture, weights: Weights, trace: Trace, position: number, C: number, tamper?: StepTamper): StepData {
  const m = dimsOf(arch, position, C);
  const tensors = new Map<number, EncodedTensor>();
  for (const id of HEAD_TENSORS) {
    const [rows, len] = shape(m, id);
    tensors.set(id, { rows, rowLength: len, dtype: 2, data: new Float32Array(rows * len) });
  }
  const set = (id: number, row: number, col: number, v: number): number => {
    const t = tensors.get(id)!;
    t.data[row * t.rowLength + col] = v;
    tamper?.(id, t, row, col);
    return t.data[row * t.rowLength + col]!;
  };
  const d = arch.hidden;
  const x = rowValues(trace.hidden[arch.layers]!, position);
  const gain = rowValues(weight(weights, W.FINAL_NORM), 0);
  let ss = 0;
  for (let c = 0; c < ceilDiv(d, C); c++) {
    let acc = 0;
    for (let i = c * C; i < Math.min(d, (c + 1) * C); i++) acc += x[i]! * x[i]!;
    ss += set(T.SS1_PART, position, c, acc);
  }
  const r = set(T.R1, 0, position, 1 / Math.sqrt(ss / d + epsOf(arch.normEpsBits)));
  const n = new Float64Array(d);
  for (let i = 0; i < d; i++) n[i] = set(T.N1, position, i, x[i]! * gain[i]! * r);
  const head = weight(weights, W.LM_HEAD);
  const w = new Float64Array(d);
  for (let v = 0; v < arch.vocab; v++) {
    rowValues(head, v, w);
    let total = 0;
    for (let c = 0; c < ceilDiv(d, C); c++) {
      let acc = 0;
      for (let i = c * C; i < Math.min(d, (c + 1) * C); i++) acc += w[i]! * n[i]!;
      total += set(T.LOGIT_PART, v, c, acc);
    }
    set(T.LOGIT, 0, v, total);
  }
  return { position, layer: arch.layers + 1, dims: m, tensors };
}

export function buildStep(arch: Architecture, weights: Weights, trace: Trace, position: number, layer: number, C: number, tamper?: StepTamper): StepData {
  if (layer === arch.layers + 1) return buildHeadStep(arch, weights, trace, position, C, tamper);
  if (layer < 1 || layer > arch.layers) throw new DisputeDataError(`no block step at layer ${layer}`);
  const m = dimsOf(arch, position, C);
  const tensors = new Map<number, EncodedTensor>();
  for (const id of STEP_TENSORS) {
    const [rows, len] = shape(m, id);
    tensors.set(id, { rows, rowLength: len, dtype: 2, data: new Float32Array(rows * len) });
  }
  const data = (id: number): Float32Array => tensors.get(id)!.data as Float32Array;
  const set = (id: number, row: number, col: number, v: number): number => {
    const t = tensors.get(id)!;
    const i = row * t.rowLength + col;
    t.data[i] = v;
    tamper?.(id, t, row, col);
    return t.data[i]!; // the committed (binary32-rounded) value
  };
  const get = (id: number, row: number, col: number): number => {
    const t = tensors.get(id)!;
    return t.data[row * t.rowLength + col]!;
  };
  const { d, heads: H, kvHeads: G, hd, kv, f, T: TT } = m;
  const group = H / G;
  const half = hd / 2;
  const eps = epsOf(arch.normEpsBits);
  const nd = ceilDiv(d, C);
  const l8 = layer << 8;
  const hPrev = trace.hidden[layer - 1]!;
  const gAttn = wrow(weight(weights, l8 | W.ATTN_NORM), 0);
  const gMlp = wrow(weight(weights, l8 | W.MLP_NORM), 0);
  const Wq = weight(weights, l8 | W.Q);
  const Wk = weight(weights, l8 | W.K);
  const Wv = weight(weights, l8 | W.V);
  const Wo = weight(weights, l8 | W.O);
  const Wg = weight(weights, l8 | W.GATE);
  const Wu = weight(weights, l8 | W.UP);
  const Wd = weight(weights, l8 | W.DOWN);
  const cache = new Map<EncodedTensor, Float64Array[]>();
  const row = (w: EncodedTensor, r: number): Float64Array => {
    let rows = cache.get(w);
    if (!rows) cache.set(w, (rows = []));
    return (rows[r] ??= wrow(w, r));
  };
  // θ^(−2k/hd), or the committed frequencies (ropeBase 0, PROTOCOL §2.1), exact in a double.
  const base = ropeBase(arch.ropeTheta);
  const invFreq = base === 0 ? Array.from(rowValues(weight(weights, W.ROPE_FREQ), 0)) : Array.from({ length: half }, (_, k) => Math.pow(base, (-2 * k) / hd));
  // q/k/v biases enter the projection's sum (MATMUL_SUM, PROTOCOL §6.2); zero without them.
  const bias = (kind: number, n: number): Float64Array => (hasQkvBias(arch.ropeTheta) ? rowValues(weight(weights, l8 | kind), 0) : new Float64Array(n));
  const [bq, bk, bv] = [bias(W.Q_BIAS, H * hd), bias(W.K_BIAS, kv), bias(W.V_BIAS, kv)];

  /** Partials of W[r] · x per chunk, then their sum (+ a bias); returns the committed sum. */
  const matvec = (partId: number, partRow: number, w: Float64Array, x: ArrayLike<number>, n: number, sumId: number, sumRow: number, sumCol: number, b = 0): number => {
    let total = 0;
    for (let c = 0; c < ceilDiv(n, C); c++) {
      let acc = 0;
      for (let i = c * C; i < Math.min(n, (c + 1) * C); i++) acc += w[i]! * x[i]!;
      total += set(partId, partRow, c, acc);
    }
    return set(sumId, sumRow, sumCol, total + b);
  };
  const rope = (pre: number, out: number, r: number, pos: number): void => {
    for (let i = 0; i < hd; i++) {
      const k = i < half ? i : i - half;
      const a = pos * invFreq[k]!;
      const x = get(pre, r, i);
      const y = get(pre, r, i < half ? i + half : i - half);
      set(out, r, i, i < half ? x * Math.cos(a) - y * Math.sin(a) : x * Math.cos(a) + y * Math.sin(a));
    }
  };
  const rms = (x: Float64Array, partId: number, partRow: number, rId: number, rCol: number): number => {
    let ss = 0;
    for (let c = 0; c < nd; c++) {
      let acc = 0;
      for (let i = c * C; i < Math.min(d, (c + 1) * C); i++) acc += x[i]! * x[i]!;
      ss += set(partId, partRow, c, acc);
    }
    return set(rId, 0, rCol, 1 / Math.sqrt(ss / d + eps));
  };

  // ---- K/V branch for every position p ≤ t, Q branch at t.
  for (let p = 0; p < TT; p++) {
    const x = rowValues(hPrev, p);
    const r = rms(x, T.SS1_PART, p, T.R1, p);
    const n1 = new Float64Array(d);
    for (let i = 0; i < d; i++) n1[i] = set(T.N1, p, i, x[i]! * gAttn[i]! * r);
    for (let j = 0; j < kv; j++) {
      matvec(T.K_PART, p * kv + j, row(Wk, j), n1, d, T.K_PRE, p * G + Math.floor(j / hd), j % hd, bk[j]);
      matvec(T.V_PART, p * kv + j, row(Wv, j), n1, d, T.V_T, j, p, bv[j]);
    }
    for (let g = 0; g < G; g++) rope(T.K_PRE, T.K, p * G + g, p);
    if (p === position) {
      for (let j = 0; j < H * hd; j++) matvec(T.Q_PART, j, row(Wq, j), n1, d, T.Q_PRE, Math.floor(j / hd), j % hd, bq[j]);
      for (let h = 0; h < H; h++) rope(T.Q_PRE, T.Q, h, p);
    }
  }
  // ---- Attention at t.
  const nhd = ceilDiv(hd, C);
  const invSqrt = 1 / Math.sqrt(hd);
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / group);
    let max = -Infinity;
    for (let p = 0; p < TT; p++) {
      let total = 0;
      for (let c = 0; c < nhd; c++) {
        let acc = 0;
        for (let i = c * C; i < Math.min(hd, (c + 1) * C); i++) acc += get(T.Q, h, i) * get(T.K, p * G + g, i);
        total += set(T.S_PART, h * TT + p, c, acc);
      }
      max = Math.max(max, set(T.S, h, p, total * invSqrt));
    }
    set(T.M, 0, h, max);
    const mh = get(T.M, 0, h);
    for (let p = 0; p < TT; p++) set(T.E, h, p, Math.exp(get(T.S, h, p) - mh));
    let z = 0;
    for (let c = 0; c < ceilDiv(TT, C); c++) {
      let acc = 0;
      for (let p = c * C; p < Math.min(TT, (c + 1) * C); p++) acc += get(T.E, h, p);
      z += set(T.Z_PART, h, c, acc);
    }
    const zc = set(T.Z, 0, h, z);
    for (let i = 0; i < hd; i++) {
      let total = 0;
      for (let c = 0; c < ceilDiv(TT, C); c++) {
        let acc = 0;
        for (let p = c * C; p < Math.min(TT, (c + 1) * C); p++) acc += get(T.E, h, p) * get(T.V_T, g * hd + i, p);
        total += set(T.O_PART, h * hd + i, c, acc);
      }
      set(T.O, 0, h * hd + i, total / zc);
    }
  }
  // ---- Output projection, residual, MLP.
  const o = data(T.O);
  const x0 = rowValues(hPrev, position);
  const x1 = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const y = matvec(T.WO_PART, i, row(Wo, i), o, H * hd, T.Y_O, 0, i);
    x1[i] = set(T.X1, 0, i, x0[i]! + y);
  }
  const r2 = rms(x1, T.SS2_PART, 0, T.R2, 0);
  const n2 = new Float64Array(d);
  for (let i = 0; i < d; i++) n2[i] = set(T.N2, 0, i, x1[i]! * gMlp[i]! * r2);
  const a = new Float64Array(f);
  for (let j = 0; j < f; j++) {
    const gv = matvec(T.G_PART, j, row(Wg, j), n2, d, T.G, 0, j);
    const uv = matvec(T.U_PART, j, row(Wu, j), n2, d, T.U, 0, j);
    a[j] = set(T.A, 0, j, (gv / (1 + Math.exp(-gv))) * uv);
  }
  for (let i = 0; i < d; i++) matvec(T.D_PART, i, row(Wd, i), a, f, T.Y_D, 0, i);
  // ---- Row constraint: squared error of the committed output h[t][l] against X1 + Y_D, and the
  // squared magnitude of X1 + Y_D, per chunk (PROTOCOL §7.2, LAYER_OUT_ROW).
  const out = rowValues(trace.hidden[layer]!, position);
  for (let c = 0; c < nd; c++) {
    let err = 0;
    let mag = 0;
    for (let i = c * C; i < Math.min(d, (c + 1) * C); i++) {
      const ref = get(T.X1, 0, i) + get(T.Y_D, 0, i);
      err += (out[i]! - ref) ** 2;
      mag += ref * ref;
    }
    set(T.OUT_ERR_PART, 0, c, err);
    set(T.OUT_ERR_PART, 1, c, mag);
  }
  return { position, layer, dims: m, tensors };
}

/** Decoded trace element, for callers that compare with the float side. */
export const traceValue = (trace: Trace, layer: number, t: number, i: number): number => {
  const h = trace.hidden[layer]!;
  const v = h.data[t * h.rowLength + i]!;
  return h.dtype === 1 ? halfToNumber(v) : v;
};
