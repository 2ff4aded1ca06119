import type { Architecture } from "../model/architecture.js";
import { headDim, normEps } from "../model/architecture.js";
import { BlockKind, GlobalKind, tensorId } from "../model/layout.js";
import { hasQkvBias, ropeBase } from "../../protocol/evaluator/layout.js";
import { GraphBuilder, OnnxType, type ExternalRef, type OnnxTypeCode } from "./builder.js";

/**
 * ONNX graphs of a Llama-family model split at layer boundaries (PROTOCOL §4.1), so that a node
 * can run any range of blocks and a verifier can re-run one block alone.
 *
 * - compute "f32": fp16 weights are cast to fp32 once (folded at load), all math in fp32.
 * - compute "f16": matmuls in fp16 as fp16 GPU inference does; RMSNorm and softmax in fp32
 *   (as Hugging Face's Llama upcasts them).
 * Hidden states cross graph boundaries in the trace dtype, so the committed trace is exactly
 * what the next block consumed.
 */
export type ComputeDtype = "f32" | "f16";

export type GraphParams = {
  arch: Architecture;
  compute: ComputeDtype;
  /** ONNX type of hidden states at graph boundaries (the trace dtype). */
  io: OnnxTypeCode;
  /** Where tensorId's bytes live in the package's weights file. */
  weightRef: (tensorId: number) => ExternalRef;
};

export const ctype = (c: ComputeDtype): OnnxTypeCode => (c === "f32" ? OnnxType.FLOAT : OnnxType.FLOAT16);

export function castTo(g: GraphBuilder, value: string, from: OnnxTypeCode, to: OnnxTypeCode): string {
  return from === to ? value : g.node("Cast", [value], { to });
}

/** A committed weight [rows, rowLength] (fp16) in compute dtype. */
function weight(g: GraphBuilder, p: GraphParams, id: number, dims: number[], name: string): string {
  const w = g.external(name, OnnxType.FLOAT16, dims, p.weightRef(id));
  return castTo(g, w, OnnxType.FLOAT16, ctype(p.compute));
}

/** y = x · Wᵀ (+ b) for W committed by output row [out, in] (PROTOCOL §3.5), b a committed [out] bias. */
export function linear(g: GraphBuilder, p: GraphParams, x: string, id: number, out: number, inp: number, name: string, biasId?: number): string {
  const w = weight(g, p, id, [out, inp], name);
  const y = g.node("MatMul", [x, g.node("Transpose", [w], { perm: [1, 0] })]);
  return biasId === undefined ? y : g.node("Add", [y, weight(g, p, biasId, [out], `${name}_bias`)]);
}

/** RMSNorm in fp32 whatever the compute dtype: x · rsqrt(mean(x²) + ε) · g. */
export function rmsNorm(g: GraphBuilder, p: GraphParams, x: string, id: number, name: string): string {
  const c = ctype(p.compute);
  const xf = castTo(g, x, c, OnnxType.FLOAT);
  const ms = g.node("ReduceMean", [g.node("Mul", [xf, xf])], { axes: [-1], keepdims: 1 });
  const eps = g.constFloat([normEps(p.arch)], []);
  const inv = g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [ms, eps])])]);
  const gain = castTo(g, g.external(name, OnnxType.FLOAT16, [p.arch.hidden], p.weightRef(id)), OnnxType.FLOAT16, OnnxType.FLOAT);
  return castTo(g, g.node("Mul", [g.node("Mul", [xf, inv]), gain]), OnnxType.FLOAT, c);
}

export function buildEmbedGraph(p: GraphParams): Uint8Array {
  const g = new GraphBuilder("embed");
  const tokens = g.input("tokens", OnnxType.INT64, ["batch", "seq"]);
  const table = g.external("embedding", OnnxType.FLOAT16, [p.arch.vocab, p.arch.hidden], p.weightRef(tensorId(0, GlobalKind.embedding)));
  const h = castTo(g, g.node("Gather", [table, tokens], { axis: 0 }), OnnxType.FLOAT16, p.io);
  g.output(h, "hidden", p.io, ["batch", "seq", p.arch.hidden]);
  return g.encode();
}

export function buildHeadGraph(p: GraphParams): Uint8Array {
  const g = new GraphBuilder("head");
  const c = ctype(p.compute);
  const h = castTo(g, g.input("hidden", p.io, ["batch", "seq", p.arch.hidden]), p.io, c);
  const n = rmsNorm(g, p, h, tensorId(0, GlobalKind.finalNorm), "final_norm");
  const logits = linear(g, p, n, tensorId(0, GlobalKind.lmHead), p.arch.vocab, p.arch.hidden, "lm_head");
  g.output(castTo(g, logits, c, OnnxType.FLOAT), "logits", OnnxType.FLOAT, ["batch", "seq", p.arch.vocab]);
  return g.encode();
}

/** Inverse RoPE frequencies θ^(-2i/hd), i < hd/2, rounded to binary32 (PROTOCOL §4.2); base 0 has committed ones. */
export function ropeInvFreq(arch: Architecture): Float32Array {
  const hd = headDim(arch);
  const base = ropeBase(arch.ropeTheta);
  if (base === 0) throw new RangeError("this model's RoPE frequencies are committed in its weights (PROTOCOL §2.1)");
  return Float32Array.from({ length: hd / 2 }, (_, i) => 1 / base ** ((2 * i) / hd));
}

/**
 * Block l (1-based): inputs hidden [B,S,d] (io dtype), positions [S] (int64, absolute),
 * past_key / past_value [B,kvHeads,P,hd] (compute dtype); outputs hidden_out,
 * present_key / present_value [B,kvHeads,P+S,hd]. Query at position p attends keys 0..p.
 */
export function buildBlockGraph(p: GraphParams, layer: number): Uint8Array {
  const { arch } = p;
  const hd = headDim(arch);
  const G = arch.heads / arch.kvHeads;
  const c = ctype(p.compute);
  const g = new GraphBuilder(`block${layer}`);
  const id = (kind: number): number => tensorId(layer, kind);

  const hidden = g.input("hidden", p.io, ["batch", "seq", arch.hidden]);
  const positions = g.input("positions", OnnxType.INT64, ["seq"]);
  const pastK = g.input("past_key", c, ["batch", arch.kvHeads, "past", hd]);
  const pastV = g.input("past_value", c, ["batch", arch.kvHeads, "past", hd]);

  const x = castTo(g, hidden, p.io, c);
  const n1 = rmsNorm(g, p, x, id(BlockKind.attnNorm), "attn_norm");
  const heads = (y: string, n: number): string =>
    g.node("Transpose", [g.node("Reshape", [y, g.constInt64([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });
  // q/k/v biases (Qwen2) are added to the projections, before RoPE (PROTOCOL §2.1).
  const bias = (kind: number) => (hasQkvBias(arch.ropeTheta) ? id(kind) : undefined);
  const q = heads(linear(g, p, n1, id(BlockKind.wq), arch.heads * hd, arch.hidden, "wq", bias(BlockKind.bq)), arch.heads);
  const k = heads(linear(g, p, n1, id(BlockKind.wk), arch.kvHeads * hd, arch.hidden, "wk", bias(BlockKind.bk)), arch.kvHeads);
  const v = heads(linear(g, p, n1, id(BlockKind.wv), arch.kvHeads * hd, arch.hidden, "wv", bias(BlockKind.bv)), arch.kvHeads);

  // RoPE (rotate-half form, as in Hugging Face Llama): angles in fp32 from absolute positions,
  // with θ^(-2i/hd) or the frequencies committed in the weights (scaled RoPE), read from there.
  const posF = g.node("Unsqueeze", [g.node("Cast", [positions], { to: OnnxType.FLOAT }), g.constInt64([1])]);
  const invFreq = ropeBase(arch.ropeTheta) === 0 ? g.external("rope_inv_freq", OnnxType.FLOAT, [1, hd / 2], p.weightRef(tensorId(0, GlobalKind.ropeInvFreq))) : g.constFloat(ropeInvFreq(arch), [1, hd / 2]);
  const freqs = g.node("Mul", [posF, invFreq]);
  const angles = g.node("Concat", [freqs, freqs], { axis: 1 });
  const cos = castTo(g, g.node("Cos", [angles]), OnnxType.FLOAT, c);
  const sin = castTo(g, g.node("Sin", [angles]), OnnxType.FLOAT, c);
  const half = hd / 2;
  const rope = (t: string): string => {
    const x1 = g.node("Slice", [t, g.constInt64([0]), g.constInt64([half]), g.constInt64([-1])]);
    const x2 = g.node("Slice", [t, g.constInt64([half]), g.constInt64([hd]), g.constInt64([-1])]);
    const rot = g.node("Concat", [g.node("Neg", [x2]), x1], { axis: -1 });
    return g.node("Add", [g.node("Mul", [t, cos]), g.node("Mul", [rot, sin])]);
  };
  const presentK = g.node("Concat", [pastK, rope(k)], { axis: 2 });
  const presentV = g.node("Concat", [pastV, v], { axis: 2 });

  // Grouped-query attention: query head h uses kv head floor(h / G); broadcast instead of copying.
  const q5 = g.node("Reshape", [rope(q), g.constInt64([0, arch.kvHeads, G, -1, hd])]);
  const k5 = g.node("Transpose", [g.node("Unsqueeze", [presentK, g.constInt64([2])])], { perm: [0, 1, 2, 4, 3] });
  const scale = castTo(g, g.constFloat([1 / Math.sqrt(hd)], []), OnnxType.FLOAT, c);
  const scores = castTo(g, g.node("Mul", [g.node("MatMul", [q5, k5]), scale]), c, OnnxType.FLOAT);
  const total = g.node("Gather", [g.node("Shape", [presentK]), g.constInt64([2], [])], { axis: 0 });
  const keyPos = g.node("Range", [g.constInt64([0], []), total, g.constInt64([1], [])]);
  const future = g.node("Greater", [g.node("Unsqueeze", [keyPos, g.constInt64([0])]), g.node("Unsqueeze", [positions, g.constInt64([1])])]);
  const masked = g.node("Where", [future, g.constFloat([Number.NEGATIVE_INFINITY], []), scores]);
  const probs = castTo(g, g.node("Softmax", [masked], { axis: -1 }), OnnxType.FLOAT, c);
  const ctx5 = g.node("MatMul", [probs, g.node("Unsqueeze", [presentV, g.constInt64([2])])]);
  const ctx = g.node("Reshape", [
    g.node("Transpose", [g.node("Reshape", [ctx5, g.constInt64([0, arch.heads, -1, hd])])], { perm: [0, 2, 1, 3] }),
    g.constInt64([0, 0, arch.heads * hd]),
  ]);
  const x1 = g.node("Add", [x, linear(g, p, ctx, id(BlockKind.wo), arch.hidden, arch.heads * hd, "wo")]);

  // SwiGLU MLP.
  const n2 = rmsNorm(g, p, x1, id(BlockKind.mlpNorm), "mlp_norm");
  const gate = linear(g, p, n2, id(BlockKind.wgate), arch.ffn, arch.hidden, "wgate");
  const up = linear(g, p, n2, id(BlockKind.wup), arch.ffn, arch.hidden, "wup");
  const act = g.node("Mul", [g.node("Mul", [gate, g.node("Sigmoid", [gate])]), up]);
  const out = g.node("Add", [x1, linear(g, p, act, id(BlockKind.wdown), arch.hidden, arch.ffn, "wdown")]);

  g.output(castTo(g, out, c, p.io), "hidden_out", p.io, ["batch", "seq", arch.hidden]);
  g.output(presentK, "present_key", c, ["batch", arch.kvHeads, "total", hd]);
  g.output(presentV, "present_value", c, ["batch", arch.kvHeads, "total", hd]);
  return g.encode();
}
