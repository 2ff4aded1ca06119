import { halfBitsToFloat } from "../../protocol/encoding/index.js";
import { headDim, normEps } from "../../runtime/model/architecture.js";
import { BlockKind, GlobalKind, tensorId } from "../../runtime/model/layout.js";
import type { ModelWeights } from "../../runtime/model/weights.js";

/**
 * Independent float64 Llama block written straight from PROTOCOL §2.1 (no ONNX), used to check
 * the generated graphs: x rows [S][d] at positions 0..S-1 with causal attention. Variants
 * (§2.1): committed RoPE frequencies when the base is 0, q/k/v biases when flagged.
 */
export function referenceBlock(w: ModelWeights, layer: number, x: number[][]): number[][] {
  const a = w.manifest.architecture;
  const hd = headDim(a);
  const eps = normEps(a);
  const W = (kind: number) => w.tensor(tensorId(layer, kind));
  const matvec = (kind: number, v: number[]): number[] => {
    const t = W(kind);
    return Array.from({ length: t.rows }, (_, r) => {
      let s = 0;
      for (let i = 0; i < t.rowLength; i++) s += halfBitsToFloat(t.data[r * t.rowLength + i]!) * v[i]!;
      return s;
    });
  };
  const rms = (v: number[], kind: number): number[] => {
    const g = W(kind).data;
    const inv = 1 / Math.sqrt(v.reduce((s, e) => s + e * e, 0) / v.length + eps);
    return v.map((e, i) => e * inv * halfBitsToFloat(g[i]!));
  };
  const base = a.ropeTheta % 2 ** 31;
  const invFreq = base === 0 ? Array.from(w.tensor(tensorId(0, GlobalKind.ropeInvFreq)).data) : Array.from({ length: hd / 2 }, (_, i) => Math.fround(1 / base ** ((2 * i) / hd)));
  const biased = a.ropeTheta >= 2 ** 31;
  const plus = (v: number[], kind: number): number[] => (biased ? v.map((x, i) => x + halfBitsToFloat(W(kind).data[i]!)) : v);
  const rope = (v: number[], pos: number): number[] => {
    const out = v.slice();
    for (let h = 0; h < v.length / hd; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const ang = pos * invFreq[i]!;
        const [x1, x2] = [v[h * hd + i]!, v[h * hd + i + hd / 2]!];
        out[h * hd + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
        out[h * hd + i + hd / 2] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
      }
    }
    return out;
  };
  const n1 = x.map((v) => rms(v, BlockKind.attnNorm));
  const q = n1.map((v, t) => rope(plus(matvec(BlockKind.wq, v), BlockKind.bq), t));
  const k = n1.map((v, t) => rope(plus(matvec(BlockKind.wk, v), BlockKind.bk), t));
  const vv = n1.map((v) => plus(matvec(BlockKind.wv, v), BlockKind.bv));
  const G = a.heads / a.kvHeads;
  return x.map((xt, t) => {
    const ctx: number[] = [];
    for (let h = 0; h < a.heads; h++) {
      const kv = Math.floor(h / G);
      const scores = Array.from({ length: t + 1 }, (_, j) => {
        let s = 0;
        for (let i = 0; i < hd; i++) s += q[t]![h * hd + i]! * k[j]![kv * hd + i]!;
        return s / Math.sqrt(hd);
      });
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((s, v) => s + v, 0);
      for (let i = 0; i < hd; i++) ctx.push(e.reduce((s, p, j) => s + (p / z) * vv[j]![kv * hd + i]!, 0));
    }
    const x1 = matvec(BlockKind.wo, ctx).map((o, i) => xt[i]! + o);
    const n2 = rms(x1, BlockKind.mlpNorm);
    const gate = matvec(BlockKind.wgate, n2);
    const up = matvec(BlockKind.wup, n2);
    const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
    return matvec(BlockKind.wdown, act).map((d, i) => x1[i]! + d);
  });
}
