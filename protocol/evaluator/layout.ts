/**
 * Step-root layout and operation codes, PROTOCOL §6.2 and §7.2; mirrors
 * contracts/dispute/StepLayout.sol and OpCodes.sol.
 */

export const Op = {
  EMBED: 0,
  NORM_SUMSQ: 1,
  NORM_RSQRT: 2,
  NORM_SCALE: 3,
  MATMUL_PARTIAL: 4,
  MATMUL_SUM: 5,
  ROPE: 6,
  SCORE_PARTIAL: 7,
  SCORE_SUM: 8,
  SOFTMAX_EXP: 9,
  SOFTMAX_SUM_PARTIAL: 10,
  SOFTMAX_SUM: 11,
  ATTN_PARTIAL: 12,
  ATTN_SUM: 13,
  RESIDUAL: 14,
  SWIGLU: 15,
  LAYER_OUT: 16,
  HEAD_ARGMAX: 17,
  LAYER_OUT_ERR_PARTIAL: 18,
  LAYER_OUT_ROW: 19,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];
export const OP_COUNT = 20;
export const OP_NAMES = Object.keys(Op) as (keyof typeof Op)[];

/** Step tensor ids (STEP_DOMAIN). OUT and EMBED are claim-only ids naming trace elements. */
export const T = {
  EMBED: 0,
  SS1_PART: 1,
  R1: 2,
  N1: 3,
  Q_PART: 4,
  Q_PRE: 5,
  Q: 6,
  K_PART: 7,
  K_PRE: 8,
  K: 9,
  V_PART: 10,
  V_T: 11,
  S_PART: 12,
  S: 13,
  M: 14,
  E: 15,
  Z_PART: 16,
  Z: 17,
  O_PART: 18,
  O: 19,
  WO_PART: 20,
  Y_O: 21,
  X1: 22,
  SS2_PART: 23,
  R2: 24,
  N2: 25,
  G_PART: 26,
  G: 27,
  U_PART: 28,
  U: 29,
  A: 30,
  D_PART: 31,
  Y_D: 32,
  OUT: 33,
  LOGIT_PART: 34,
  LOGIT: 35,
  ARGMAX: 36,
  OUT_ERR_PART: 37,
  OUT_ROW: 38,
} as const;
/** Tensors that live in a block step's root (all but the claim-only EMBED, OUT and OUT_ROW). */
export const STEP_TENSORS: number[] = [...Array.from({ length: 32 }, (_, i) => i + 1), 37];
/** Tensors of the head step's root (layer L + 1). */
export const HEAD_TENSORS: number[] = [1, 2, 3, 34, 35];

/** Weights kinds, tensorId = (layer << 8) | kind, PROTOCOL §3.5. */
export const W = {
  EMBED: 1,
  FINAL_NORM: 2,
  LM_HEAD: 3,
  ATTN_NORM: 1,
  Q: 2,
  K: 3,
  V: 4,
  O: 5,
  MLP_NORM: 6,
  GATE: 7,
  UP: 8,
  DOWN: 9,
  /** Layer 0: RoPE inverse frequencies, 1 × hd/2, always binary32; committed iff ropeBase = 0. */
  ROPE_FREQ: 4,
  /** Layer l: q/k/v projection biases, 1 × rows of Wq / Wk / Wv; committed iff hasQkvBias. */
  Q_BIAS: 10,
  K_BIAS: 11,
  V_BIAS: 12,
} as const;

/**
 * The registered `ropeTheta` (uint32) carries the model's RoPE and projection variant
 * (PROTOCOL §2.1): bits 0–30 the RoPE base θ, where 0 means the per-dimension inverse
 * frequencies are committed in the weights (W.ROPE_FREQ: any scaled RoPE, e.g. Llama-3.1's);
 * bit 31 set means q/k/v projections have committed biases (W.Q_BIAS.., Qwen2).
 */
export const QKV_BIAS_FLAG = 0x80000000;
export const ropeBase = (ropeTheta: number): number => ropeTheta % QKV_BIAS_FLAG;
export const hasQkvBias = (ropeTheta: number): boolean => ropeTheta >= QKV_BIAS_FLAG;
/** The weights tensor whose elements are always binary32, whatever the registered weights dtype. */
export const isBinary32Weights = (tensorId: number): boolean => tensorId === W.ROPE_FREQ;

export const TOKEN_TENSOR_ID = 2 ** 32 - 1;

export type Dims = {
  d: number;
  heads: number;
  kvHeads: number;
  hd: number;
  kv: number;
  f: number;
  /** positions t + 1 */
  T: number;
  C: number;
  vocab: number;
};

export const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);

export function dimsOf(arch: { hidden: number; heads: number; kvHeads: number; ffn: number; vocab: number }, position: number, C: number): Dims {
  const hd = arch.hidden / arch.heads;
  return { d: arch.hidden, heads: arch.heads, kvHeads: arch.kvHeads, hd, kv: arch.kvHeads * hd, f: arch.ffn, T: position + 1, C, vocab: arch.vocab };
}

/** [rows, row length] of a step tensor; [0, 0] for an unknown id. */
export function shape(m: Dims, tensor: number): [number, number] {
  const nd = ceilDiv(m.d, m.C);
  const nT = ceilDiv(m.T, m.C);
  switch (tensor) {
    case T.SS1_PART: return [m.T, nd];
    case T.R1: return [1, m.T];
    case T.N1: return [m.T, m.d];
    case T.Q_PART: return [m.heads * m.hd, nd];
    case T.Q_PRE: case T.Q: return [m.heads, m.hd];
    case T.K_PART: case T.V_PART: return [m.T * m.kv, nd];
    case T.K_PRE: case T.K: return [m.T * m.kvHeads, m.hd];
    case T.V_T: return [m.kv, m.T];
    case T.S_PART: return [m.heads * m.T, ceilDiv(m.hd, m.C)];
    case T.S: case T.E: return [m.heads, m.T];
    case T.M: case T.Z: return [1, m.heads];
    case T.Z_PART: return [m.heads, nT];
    case T.O_PART: return [m.heads * m.hd, nT];
    case T.O: return [1, m.heads * m.hd];
    case T.WO_PART: return [m.d, ceilDiv(m.heads * m.hd, m.C)];
    case T.Y_O: case T.X1: case T.N2: case T.Y_D: case T.OUT: case T.EMBED: return [1, m.d];
    case T.SS2_PART: return [1, nd];
    case T.R2: return [1, 1];
    case T.G_PART: case T.U_PART: return [m.f, nd];
    case T.G: case T.U: case T.A: return [1, m.f];
    case T.D_PART: return [m.d, ceilDiv(m.f, m.C)];
    case T.LOGIT_PART: return [m.vocab, nd];
    case T.LOGIT: case T.ARGMAX: return [1, m.vocab];
    case T.OUT_ERR_PART: return [2, ceilDiv(m.d, m.C)];
    case T.OUT_ROW: return [1, 1];
    default: return [0, 0];
  }
}

export class NotJudgeableError extends Error {
  constructor(readonly tensor: number, readonly layer: number) {
    super(`tensor ${tensor} is not judgeable at layer ${layer}`);
    this.name = "NotJudgeableError";
  }
}

/** Operation code judging claims on `tensor` at `layer` of an L-block model (L + 1 = head). */
export function opOf(tensor: number, layer: number, layers: number): OpCode {
  if (layer === 0) {
    if (tensor === T.EMBED) return Op.EMBED;
    throw new NotJudgeableError(tensor, layer);
  }
  if (layer === layers + 1) {
    switch (tensor) {
      case T.SS1_PART: return Op.NORM_SUMSQ;
      case T.R1: return Op.NORM_RSQRT;
      case T.N1: return Op.NORM_SCALE;
      case T.LOGIT_PART: return Op.MATMUL_PARTIAL;
      case T.LOGIT: return Op.MATMUL_SUM;
      case T.ARGMAX: return Op.HEAD_ARGMAX;
      default: throw new NotJudgeableError(tensor, layer);
    }
  }
  if (layer > layers) throw new NotJudgeableError(tensor, layer);
  switch (tensor) {
    case T.SS1_PART: case T.SS2_PART: return Op.NORM_SUMSQ;
    case T.R1: case T.R2: return Op.NORM_RSQRT;
    case T.N1: case T.N2: return Op.NORM_SCALE;
    case T.Q_PART: case T.K_PART: case T.V_PART: case T.WO_PART: case T.G_PART: case T.U_PART: case T.D_PART:
      return Op.MATMUL_PARTIAL;
    case T.Q_PRE: case T.K_PRE: case T.V_T: case T.Y_O: case T.G: case T.U: case T.Y_D: return Op.MATMUL_SUM;
    case T.Q: case T.K: return Op.ROPE;
    case T.S_PART: return Op.SCORE_PARTIAL;
    case T.S: return Op.SCORE_SUM;
    case T.E: return Op.SOFTMAX_EXP;
    case T.Z_PART: return Op.SOFTMAX_SUM_PARTIAL;
    case T.Z: return Op.SOFTMAX_SUM;
    case T.O_PART: return Op.ATTN_PARTIAL;
    case T.O: return Op.ATTN_SUM;
    case T.X1: return Op.RESIDUAL;
    case T.A: return Op.SWIGLU;
    case T.OUT: return Op.LAYER_OUT;
    case T.OUT_ERR_PART: return Op.LAYER_OUT_ERR_PARTIAL;
    case T.OUT_ROW: return Op.LAYER_OUT_ROW;
    default: throw new NotJudgeableError(tensor, layer);
  }
}
