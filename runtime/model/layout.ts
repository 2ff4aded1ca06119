import type { Architecture } from "./architecture.js";
import { headDim } from "./architecture.js";
import { hasQkvBias, ropeBase } from "../../protocol/evaluator/layout.js";

/** Tensor kinds of PROTOCOL §3.5; tensorId = (layer << 8) | kind. */
export const GlobalKind = { embedding: 1, finalNorm: 2, lmHead: 3, ropeInvFreq: 4 } as const;
export const BlockKind = { attnNorm: 1, wq: 2, wk: 3, wv: 4, wo: 5, mlpNorm: 6, wgate: 7, wup: 8, wdown: 9, bq: 10, bk: 11, bv: 12 } as const;

export function tensorId(layer: number, kind: number): number {
  if (!Number.isInteger(layer) || layer < 0 || layer > 0xffffff) throw new RangeError(`layer ${layer} out of range`);
  if (!Number.isInteger(kind) || kind < 1 || kind > 0xff) throw new RangeError(`kind ${kind} out of range`);
  return layer * 256 + kind;
}

/**
 * One committed tensor: `rows` output rows of `rowLength` elements (PROTOCOL §3.5), binary16
 * (`dtype` 1, the weights dtype) except the committed RoPE frequencies (binary32, 2).
 */
export type TensorSpec = { tensorId: number; layer: number; kind: number; name: string; rows: number; rowLength: number; dtype: 1 | 2 };

/** Every committed tensor in canonical (ascending tensorId) order, variants (PROTOCOL §2.1) included. */
export function weightTensors(a: Architecture): TensorSpec[] {
  const hd = headDim(a);
  const spec = (layer: number, kind: number, name: string, rows: number, rowLength: number, dtype: 1 | 2 = 1): TensorSpec => ({
    tensorId: tensorId(layer, kind),
    layer,
    kind,
    name,
    rows,
    rowLength,
    dtype,
  });
  const out: TensorSpec[] = [
    spec(0, GlobalKind.embedding, "embedding", a.vocab, a.hidden),
    spec(0, GlobalKind.finalNorm, "final_norm", 1, a.hidden),
    spec(0, GlobalKind.lmHead, "lm_head", a.vocab, a.hidden),
  ];
  if (ropeBase(a.ropeTheta) === 0) out.push(spec(0, GlobalKind.ropeInvFreq, "rope_inv_freq", 1, hd / 2, 2));
  for (let l = 1; l <= a.layers; l++) {
    out.push(
      spec(l, BlockKind.attnNorm, `l${l}.attn_norm`, 1, a.hidden),
      spec(l, BlockKind.wq, `l${l}.wq`, a.heads * hd, a.hidden),
      spec(l, BlockKind.wk, `l${l}.wk`, a.kvHeads * hd, a.hidden),
      spec(l, BlockKind.wv, `l${l}.wv`, a.kvHeads * hd, a.hidden),
      spec(l, BlockKind.wo, `l${l}.wo`, a.hidden, a.heads * hd),
      spec(l, BlockKind.mlpNorm, `l${l}.mlp_norm`, 1, a.hidden),
      spec(l, BlockKind.wgate, `l${l}.wgate`, a.ffn, a.hidden),
      spec(l, BlockKind.wup, `l${l}.wup`, a.ffn, a.hidden),
      spec(l, BlockKind.wdown, `l${l}.wdown`, a.hidden, a.ffn),
    );
    if (hasQkvBias(a.ropeTheta)) out.push(spec(l, BlockKind.bq, `l${l}.bq`, 1, a.heads * hd), spec(l, BlockKind.bk, `l${l}.bk`, 1, a.kvHeads * hd), spec(l, BlockKind.bv, `l${l}.bv`, 1, a.kvHeads * hd));
  }
  return out;
}
