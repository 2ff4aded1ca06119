import { headDim } from "../model/architecture.js";
import { BlockKind, GlobalKind, tensorId } from "../model/layout.js";
import { hasQkvBias, ropeBase } from "../../protocol/evaluator/layout.js";
import { GraphBuilder, OnnxType } from "./builder.js";
import { castTo, ctype, linear, rmsNorm, ropeInvFreq, type GraphParams } from "./llama-graphs.js";

/**
 * The serving graph (PROTOCOL §4.2 "Serving"): embed, every block and the head fused into one
 * ONNX graph for ragged batches. It is not part of the model package (nothing commits graphs;
 * the weights root commits the weights): the runtime builds it at load time from the same ops
 * as the package's split graphs, so a node runs one session — one intra-op thread pool — per
 * decode step instead of L + 2, and sequences at different positions share each weight read.
 *
 * The KV cache stays outside the graph, in slot buffers the caller owns (runtime/serve/kv-slots.ts)
 * and passes in without copying: keys transposed, `[B, kvHeads, hd, cap]`, values
 * `[B, kvHeads, cap, hd]`, `cap` key slots per sequence of which each uses a prefix. The graph
 * returns only the new keys and values, which the caller writes into its slots; nothing copies
 * the cache per step (the package's block graphs concatenate and transpose it every step).
 *
 * Inputs (B sequences, S new positions each, T = cap + S):
 * - `tokens` int64[B,S], `positions` int64[B,S]: each sequence's new tokens and their absolute positions;
 * - `key_positions` int64[B,T]: the absolute position of every key, cached slots then the S new
 *   ones. A slot a sequence does not use holds a position larger than any query, so the causal
 *   rule `key position > query position ⇒ masked` masks it; a masked key gets probability
 *   exactly 0, so unused slots change no value;
 * - `past_key_<l>` [B,kvHeads,hd,cap], `past_value_<l>` [B,kvHeads,cap,hd] in the compute dtype.
 * Outputs: `h_<l>` [B,S,d] for l = 0..L in the trace dtype (exactly what block l+1 consumes:
 * hidden states still cross block boundaries in the trace dtype), `key_<l>` / `value_<l>`
 * [B,kvHeads,S,hd] (keys after RoPE), and `logits` float32[B,vocab] of each sequence's last
 * new position.
 *
 * Same math as the split graphs (§4.2) but for summation order: attention sums the cached keys'
 * and the new keys' contributions as two products, and batched products block differently —
 * rounding the tolerances cover (§4.6, §6.1); the batched honest-prover tests check it.
 */
export function buildServeGraph(p: GraphParams): Uint8Array {
  const { arch } = p;
  const hd = headDim(arch);
  const G = arch.heads / arch.kvHeads;
  const c = ctype(p.compute);
  const g = new GraphBuilder("serve");
  const tokens = g.input("tokens", OnnxType.INT64, ["batch", "seq"]);
  const positions = g.input("positions", OnnxType.INT64, ["batch", "seq"]);
  const keyPositions = g.input("key_positions", OnnxType.INT64, ["batch", "total"]);

  // Shared by every block: RoPE angles per (sequence, position) and the attention mask.
  const posF = g.node("Unsqueeze", [g.node("Cast", [positions], { to: OnnxType.FLOAT }), g.constInt64([2])]); // [B,S,1]
  const invFreq = ropeBase(arch.ropeTheta) === 0 ? g.external("rope_inv_freq", OnnxType.FLOAT, [1, hd / 2], p.weightRef(tensorId(0, GlobalKind.ropeInvFreq))) : g.constFloat(ropeInvFreq(arch), [1, hd / 2]);
  const freqs = g.node("Mul", [posF, invFreq]); // [B,S,hd/2]
  const angles = g.node("Concat", [freqs, freqs], { axis: -1 });
  const cos = castTo(g, g.node("Unsqueeze", [g.node("Cos", [angles]), g.constInt64([1])]), OnnxType.FLOAT, c); // [B,1,S,hd]
  const sin = castTo(g, g.node("Unsqueeze", [g.node("Sin", [angles]), g.constInt64([1])]), OnnxType.FLOAT, c);
  // future[b,1,1,s,t] = key_positions[b,t] > positions[b,s], broadcast over kv heads and groups.
  const future = g.node("Unsqueeze", [
    g.node("Greater", [g.node("Unsqueeze", [keyPositions, g.constInt64([1])]), g.node("Unsqueeze", [positions, g.constInt64([2])])]),
    g.constInt64([1, 2]),
  ]);
  const minusInf = g.constFloat([Number.NEGATIVE_INFINITY], []);
  const scale = castTo(g, g.constFloat([1 / Math.sqrt(hd)], []), OnnxType.FLOAT, c);
  const half = hd / 2;
  const rope = (t: string): string => {
    const x1 = g.node("Slice", [t, g.constInt64([0]), g.constInt64([half]), g.constInt64([-1])]);
    const x2 = g.node("Slice", [t, g.constInt64([half]), g.constInt64([hd]), g.constInt64([-1])]);
    const rot = g.node("Concat", [g.node("Neg", [x2]), x1], { axis: -1 });
    return g.node("Add", [g.node("Mul", [t, cos]), g.node("Mul", [rot, sin])]);
  };

  const table = g.external("embedding", OnnxType.FLOAT16, [arch.vocab, arch.hidden], p.weightRef(tensorId(0, GlobalKind.embedding)));
  let h = castTo(g, g.node("Gather", [table, tokens], { axis: 0 }), OnnxType.FLOAT16, p.io);
  g.output(h, "h_0", p.io, ["batch", "seq", arch.hidden]);
  let cap: string | undefined;

  for (let layer = 1; layer <= arch.layers; layer++) {
    const id = (kind: number): number => tensorId(layer, kind);
    const name = (n: string) => `l${layer}_${n}`;
    const pastK = g.input(`past_key_${layer}`, c, ["batch", arch.kvHeads, hd, "cap"]);
    const pastV = g.input(`past_value_${layer}`, c, ["batch", arch.kvHeads, "cap", hd]);
    cap ??= g.node("Slice", [g.node("Shape", [pastV]), g.constInt64([2]), g.constInt64([3])]); // [cap]
    const x = castTo(g, h, p.io, c);
    const n1 = rmsNorm(g, p, x, id(BlockKind.attnNorm), name("attn_norm"));
    const heads = (y: string, n: number): string => g.node("Transpose", [g.node("Reshape", [y, g.constInt64([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });
    const bias = (kind: number) => (hasQkvBias(arch.ropeTheta) ? id(kind) : undefined);
    const q = heads(linear(g, p, n1, id(BlockKind.wq), arch.heads * hd, arch.hidden, name("wq"), bias(BlockKind.bq)), arch.heads);
    const k = rope(heads(linear(g, p, n1, id(BlockKind.wk), arch.kvHeads * hd, arch.hidden, name("wk"), bias(BlockKind.bk)), arch.kvHeads));
    const v = heads(linear(g, p, n1, id(BlockKind.wv), arch.kvHeads * hd, arch.hidden, name("wv"), bias(BlockKind.bv)), arch.kvHeads);
    // Grouped-query attention: query head h uses kv head floor(h / G); broadcast instead of copying.
    const q5 = g.node("Reshape", [rope(q), g.constInt64([0, arch.kvHeads, G, -1, hd])]); // [B,kvH,G,S,hd]
    const cached = g.node("MatMul", [q5, g.node("Unsqueeze", [pastK, g.constInt64([2])])]); // [B,kvH,G,S,cap]
    const fresh = g.node("MatMul", [q5, g.node("Unsqueeze", [g.node("Transpose", [k], { perm: [0, 1, 3, 2] }), g.constInt64([2])])]); // [B,kvH,G,S,S]
    const scores = castTo(g, g.node("Mul", [g.node("Concat", [cached, fresh], { axis: -1 }), scale]), c, OnnxType.FLOAT);
    const probs = castTo(g, g.node("Softmax", [g.node("Where", [future, minusInf, scores])], { axis: -1 }), OnnxType.FLOAT, c);
    const [pCached, pFresh] = g.op("Split", [probs, g.node("Concat", [cap, g.node("Slice", [g.node("Shape", [v]), g.constInt64([2]), g.constInt64([3])])], { axis: 0 })], { axis: -1 }, 2) as [string, string];
    const ctx5 = g.node("Add", [
      g.node("MatMul", [pCached, g.node("Unsqueeze", [pastV, g.constInt64([2])])]),
      g.node("MatMul", [pFresh, g.node("Unsqueeze", [v, g.constInt64([2])])]),
    ]);
    const ctx = g.node("Reshape", [
      g.node("Transpose", [g.node("Reshape", [ctx5, g.constInt64([0, arch.heads, -1, hd])])], { perm: [0, 2, 1, 3] }),
      g.constInt64([0, 0, arch.heads * hd]),
    ]);
    const x1 = g.node("Add", [x, linear(g, p, ctx, id(BlockKind.wo), arch.hidden, arch.heads * hd, name("wo"))]);
    const n2 = rmsNorm(g, p, x1, id(BlockKind.mlpNorm), name("mlp_norm"));
    const gate = linear(g, p, n2, id(BlockKind.wgate), arch.ffn, arch.hidden, name("wgate"));
    const up = linear(g, p, n2, id(BlockKind.wup), arch.ffn, arch.hidden, name("wup"));
    const act = g.node("Mul", [g.node("Mul", [gate, g.node("Sigmoid", [gate])]), up]);
    const out = g.node("Add", [x1, linear(g, p, act, id(BlockKind.wdown), arch.hidden, arch.ffn, name("wdown"))]);
    // The boundary in the trace dtype: the next block reads this very tensor (PROTOCOL §4.2).
    h = castTo(g, out, c, p.io);
    g.output(h, `h_${layer}`, p.io, ["batch", "seq", arch.hidden]);
    g.output(k, `key_${layer}`, c, ["batch", arch.kvHeads, "seq", hd]);
    g.output(v, `value_${layer}`, c, ["batch", arch.kvHeads, "seq", hd]);
  }

  // The head on each sequence's last new position only (a prefill needs one row of logits).
  const last = g.node("Slice", [h, g.constInt64([-1]), g.constInt64([2 ** 62]), g.constInt64([1])]); // [B,1,d]
  const n = rmsNorm(g, p, castTo(g, last, p.io, c), tensorId(0, GlobalKind.finalNorm), "final_norm");
  const logits = linear(g, p, n, tensorId(0, GlobalKind.lmHead), arch.vocab, arch.hidden, "lm_head");
  const flat = g.node("Reshape", [castTo(g, logits, c, OnnxType.FLOAT), g.constInt64([0, arch.vocab])]);
  g.output(flat, "logits", OnnxType.FLOAT, ["batch", arch.vocab]);
  return g.encode();
}
